package redistest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server process of a test's own, on a free loopback
// port, for crash, restart and outage tests. It is stopped when the test
// ends.
type Server struct {
	// Addr is host:port; it stays the same across Restart.
	Addr string

	t    testing.TB
	dir  string
	args []string
	// probe, when set, is how waitReady reaches the server (TLS, ACL user);
	// nil means a plain connection to Addr.
	probe *redis.Options

	mu  sync.Mutex
	cmd *exec.Cmd
}

// StartServer starts redis-server with extra arguments (for example
// "--appendonly", "yes"). It skips the test when redis-server is not
// installed, so `go test ./...` stays green on a machine without Redis.
func StartServer(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redistest: redis-server is not installed")
	}
	_ = bin
	port, err := FreePort()
	if err != nil {
		t.Fatalf("redistest: free port: %v", err)
	}
	s := &Server{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		t:    t,
		dir:  t.TempDir(),
		args: append([]string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--daemonize", "no",
		}, extra...),
	}
	s.args = append([]string{"--dir", s.dir}, s.args...)
	s.start()
	t.Cleanup(s.Kill)
	return s
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() {
	s.t.Helper()
	cmd := exec.Command("redis-server", s.args...)
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redistest: start redis-server: %v", err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	if err := s.waitReady(10 * time.Second); err != nil {
		s.t.Fatalf("redistest: redis-server on %s: %v", s.Addr, err)
	}
}

func (s *Server) waitReady(limit time.Duration) error {
	o := redis.Options{Addr: s.Addr}
	if s.probe != nil {
		o = *s.probe
	}
	o.MaxRetries = -1
	c := redis.NewClient(&o)
	defer c.Close()
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %w", limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Client returns a client to s with ContextTimeoutEnabled, closed when the
// test ends. Retries are off so that outage tests see each failure.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// PID is the server process's ID (0 once killed).
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}

// Pause stops the process with SIGSTOP: the port still accepts connections
// but nothing answers, the way a hung or partitioned server looks.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

// Kill kills the server with SIGKILL and waits for it to exit. Safe to call
// twice.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // a stopped process must run to die promptly
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// Restart kills the server (if running) and starts it again on the same
// port and directory, so data persisted there (AOF) is loaded again.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.start()
}
