// Package e2e is the end-to-end test driver shared by the four HTTP
// programs: it starts a program's router on a free port, with the reminder
// workers, and drives it over real HTTP. Each program's test is one call:
//
//	func TestE2E(t *testing.T) { e2e.Run(t, newHandler) }
//
// The backend follows the environment, as the library's suites do: an
// embedded miniredis by default, the Redis at REDIS_URL, or the cluster at
// REDIS_CLUSTER_ADDRS, each test under its own key prefix.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/sytefy/kit/examples/internal/api"
	"github.com/sytefy/kit/examples/internal/app"
	"github.com/sytefy/kit/examples/internal/boot"
	"github.com/sytefy/kit/internal/redistest"
)

// NewHandler builds a program's router over the API: each program's
// newHandler.
type NewHandler func(*api.API) http.Handler

// Server is a running service under test.
type Server struct {
	// URL is the base URL, "http://127.0.0.1:port".
	URL string
	// Config is the configuration it was built from.
	Config app.Config
	// Sent records every notification the reminder handlers sent.
	Sent *Recorder

	t      testing.TB
	client *http.Client
}

// Start builds the service with a test configuration (changed by edit, when
// not nil), serves newHandler's router on a free loopback port with the
// workers running, and stops it when the test ends. The Redis is chosen
// from the environment (see the package doc) unless edit sets RedisURL.
func Start(t testing.TB, newHandler NewHandler, edit func(*app.Config)) *Server {
	t.Helper()
	cfg := app.Defaults()
	cfg.ReminderOffset = 0
	cfg.PasswordCost = bcrypt.MinCost // bcrypt at its default cost would dominate the run under -race
	cfg.RequestTimeout = 2 * time.Second
	cfg.JWTSecret = make([]byte, app.MinSecretLen)
	_, _ = rand.Read(cfg.JWTSecret)
	switch redistest.CurrentMode() {
	case redistest.Single:
		cfg.RedisURL = os.Getenv("REDIS_URL")
		cfg.KeyPrefix = redistest.New(t).Prefix // its cleanup deletes our keys
	case redistest.Cluster:
		addrs := strings.Split(os.Getenv("REDIS_CLUSTER_ADDRS"), ",")
		cfg.RedisURL = "redis://" + addrs[0] + "?" + url.Values{"addr": addrs[1:]}.Encode()
		cfg.KeyPrefix = redistest.New(t).Prefix
	}
	if edit != nil {
		edit(&cfg)
	}

	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sent := &Recorder{}
	svc, err := boot.New(cfg, boot.WithLogger(log), boot.WithNotifier(sent))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, ln, newHandler(svc.API)) }()

	s := &Server{URL: "http://" + ln.Addr().String(), Config: cfg, Sent: sent, t: t,
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32},
			// A redirect is an answer to check, not one to follow.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	t.Cleanup(func() {
		// Close the client's idle connections first: the server's Shutdown
		// waits up to 5s for a connection that never sent a request.
		s.client.CloseIdleConnections()
		stop()
		err := <-done
		svc.Close()
		if t.Failed() {
			t.Logf("service log:\n%s", logs.String())
		}
		require.NoError(t, err, "Serve after shutdown")
	})
	return s
}

// Recorder is a Notifier that records what it is asked to send.
type Recorder struct {
	mu   sync.Mutex
	sent []Sent
}

// Sent is one recorded notification and when it was sent.
type Sent struct {
	app.Message
	At time.Time
}

// Notify records m.
func (r *Recorder) Notify(_ context.Context, m app.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, Sent{Message: m, At: time.Now()})
	return nil
}

// For returns what was sent on ch for the reminder with this ID.
func (r *Recorder) For(reminderID string, ch app.Channel) []Sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Sent
	for _, s := range r.sent {
		if s.Channel == ch && strings.HasPrefix(s.IdempotencyKey, reminderID+"@") {
			out = append(out, s)
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for the service's concurrent logging.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
