package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is the harness's own redis-server: a free loopback port, a
// temp directory, and an append-only file fsynced on every write
// (--appendfsync always), so that a write Redis acknowledged survives a
// SIGKILL of the server. Only the harness touches it, by PID.
type redisServer struct {
	addr string
	dir  string

	mu  sync.Mutex
	cmd *exec.Cmd
}

func startRedis(dir string) (*redisServer, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redis-server is not installed: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &redisServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir}
	return s, s.start()
}

func (s *redisServer) start() error {
	_, port, _ := net.SplitHostPort(s.addr)
	cmd := exec.Command("redis-server",
		"--port", port, "--bind", "127.0.0.1", "--dir", s.dir, "--daemonize", "no",
		"--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--logfile", filepath.Join(s.dir, "redis.log"))
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	return s.waitReady(20 * time.Second)
}

// waitReady pings until the server answers; loading the AOF after a
// restart answers LOADING, which is an error here too.
func (s *redisServer) waitReady(limit time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1})
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
			return fmt.Errorf("redis-server on %s not ready after %s: %w", s.addr, limit, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *redisServer) process() *os.Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	return s.cmd.Process
}

// pause stops the server with SIGSTOP and returns once the kernel reports
// it stopped: from then on nothing it says can be a reply to a request sent
// later. Its port still accepts connections, the way a hung server or a
// partition looks to a client.
func (s *redisServer) pause() error {
	p := s.process()
	if p == nil {
		return fmt.Errorf("redis-server is not running")
	}
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	for i := 0; i < 1000; i++ {
		if processState(p.Pid) == "T" {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("redis-server %d did not stop", p.Pid)
}

// resume continues a paused server with SIGCONT.
func (s *redisServer) resume() error {
	p := s.process()
	if p == nil {
		return fmt.Errorf("redis-server is not running")
	}
	return p.Signal(syscall.SIGCONT)
}

// kill kills the server with SIGKILL and waits until it is gone. Safe to
// call twice.
func (s *redisServer) kill() {
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

// processState is the state letter of /proc/<pid>/stat ("R", "S", "T", ...),
// or "" when it cannot be read.
func processState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command name is in parentheses and may hold spaces: the state is
	// the first field after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
