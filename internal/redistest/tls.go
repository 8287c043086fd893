package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ACL credentials of the user a TLSServer creates. The default user is
// disabled, so a client must authenticate as this user.
const (
	TLSUser     = "kit"
	TLSPassword = "kit-test-pass"
)

// TLSServer is a redis-server of a test's own that listens only on a TLS
// port, with certificates made at test time and an ACL user (TLSUser,
// TLSPassword) that may do everything; the default user is off. It embeds
// Server, so Pause, Resume, Kill and Restart work as there; Server.Client
// does not (it speaks plain TCP): use TLSServer.Client.
type TLSServer struct {
	*Server
	// CAFile is the PEM file of the CA that signed the server certificate.
	CAFile string
	// RootCAs trusts that CA and nothing else.
	RootCAs *x509.CertPool
}

// StartTLSServer starts redis-server with --port 0 (no plain TCP) and
// --tls-port on a free loopback port, a certificate for 127.0.0.1 and
// localhost signed by a fresh CA, client certificates not required, and the
// ACL user TLSUser. Extra arguments are appended. It skips the test when
// redis-server is not installed; a build without TLS fails it.
func StartTLSServer(t testing.TB, extra ...string) *TLSServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redistest: redis-server is not installed")
	}
	port, err := FreePort()
	if err != nil {
		t.Fatalf("redistest: free port: %v", err)
	}
	dir := t.TempDir()
	pki, err := writeTestPKI(dir)
	if err != nil {
		t.Fatalf("redistest: certificates: %v", err)
	}
	s := &TLSServer{
		Server: &Server{
			Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			t:    t,
			dir:  dir,
		},
		CAFile:  pki.caFile,
		RootCAs: pki.pool,
	}
	s.args = append([]string{
		"--dir", dir, "--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--tls-cert-file", pki.certFile, "--tls-key-file", pki.keyFile,
		"--tls-ca-cert-file", pki.caFile, "--tls-auth-clients", "no",
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		// Each word after --user is one word of the ACL rule line.
		"--user", TLSUser, "on", ">" + TLSPassword, "~*", "&*", "+@all",
		"--user", "default", "off",
	}, extra...)
	opt, err := s.Options(TLSPassword)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	s.probe = opt
	s.start()
	t.Cleanup(s.Kill)
	return s
}

// URL returns the rediss:// URL of s for user TLSUser with password pass
// (pass it TLSPassword, or a wrong one to test refusal), database 0.
func (s *TLSServer) URL(pass string) string {
	u := url.URL{Scheme: "rediss", User: url.UserPassword(TLSUser, pass), Host: s.Addr, Path: "/0"}
	return u.String()
}

// Options parses URL(pass) the way an application would (redis.ParseURL)
// and makes its TLS config trust the test CA. ContextTimeoutEnabled is on.
func (s *TLSServer) Options(pass string) (*redis.Options, error) {
	opt, err := redis.ParseURL(s.URL(pass))
	if err != nil {
		return nil, fmt.Errorf("parse TLS URL: %w", err)
	}
	opt.TLSConfig.RootCAs = s.RootCAs
	opt.ContextTimeoutEnabled = true
	return opt, nil
}

// Client returns a client that logs in as TLSUser with pass over TLS,
// closed when the test ends. Retries are off so that tests see each
// failure.
func (s *TLSServer) Client(pass string) *redis.Client {
	s.t.Helper()
	opt, err := s.Options(pass)
	if err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
	opt.MaxRetries = -1
	c := redis.NewClient(opt)
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// TLSConfig returns a *tls.Config that trusts only the test CA, for
// clients built without ParseURL (a ClusterClient, say).
func (s *TLSServer) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.RootCAs, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

type testPKI struct {
	caFile, certFile, keyFile string
	pool                      *x509.CertPool
}

// writeTestPKI makes a CA and a server certificate for 127.0.0.1 and
// localhost, valid for one day, and writes them as PEM files into dir.
func writeTestPKI(dir string) (testPKI, error) {
	var p testPKI
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kit test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return p, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return p, err
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return p, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		return p, err
	}
	p.caFile = filepath.Join(dir, "ca.pem")
	p.certFile = filepath.Join(dir, "server.pem")
	p.keyFile = filepath.Join(dir, "server-key.pem")
	for _, f := range []struct {
		name, typ string
		der       []byte
	}{
		{p.caFile, "CERTIFICATE", caDER},
		{p.certFile, "CERTIFICATE", srvDER},
		{p.keyFile, "PRIVATE KEY", keyDER},
	} {
		b := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := os.WriteFile(f.name, b, 0o600); err != nil {
			return p, err
		}
	}
	p.pool = x509.NewCertPool()
	p.pool.AddCert(caCert)
	return p, nil
}
