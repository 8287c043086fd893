package redistest

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// LostReply is a TCP proxy to a Redis server that loses one reply on
// demand. Once armed, it passes the next script call (EVAL or EVALSHA) on
// to the server, which runs it, and then closes the client's connection
// instead of passing the reply back. go-redis, whose connection died
// before the reply came, sends the command again on a new connection (up
// to MaxRetries times): the script runs a second time, after its first
// run already acted. It is closed when the test ends.
type LostReply struct {
	ln       net.Listener
	upstream string
	armed    atomic.Bool
	lost     atomic.Int64
	wg       sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
}

// NewLostReply starts a proxy on a free loopback port to upstream
// (host:port). Point a client at Addr.
func NewLostReply(t testing.TB, upstream string) *LostReply {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: proxy: %v", err)
	}
	p := &LostReply{ln: ln, upstream: upstream}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port.
func (p *LostReply) Addr() string { return p.ln.Addr().String() }

// Arm makes the proxy lose the reply to the next script call.
func (p *LostReply) Arm() { p.armed.Store(true) }

// Lost is how many replies the proxy has lost.
func (p *LostReply) Lost() int64 { return p.lost.Load() }

func (p *LostReply) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		var script atomic.Bool // a script call went up this connection while armed
		p.wg.Add(2)
		go p.pipe(c, s, func(b []byte) bool {
			if p.armed.Load() && bytes.Contains(bytes.ToLower(b), []byte("eval")) {
				script.Store(true)
			}
			return true
		})
		go p.pipe(s, c, func(b []byte) bool {
			// A NOSCRIPT error is passed on: go-redis then sends EVAL,
			// and the script runs for the first time.
			if !script.Load() || bytes.HasPrefix(b, []byte("-NOSCRIPT")) || !p.armed.CompareAndSwap(true, false) {
				return true
			}
			p.lost.Add(1)
			return false
		})
	}
}

// pipe copies from src to dst while pass approves each chunk read, then
// closes both.
func (p *LostReply) pipe(src, dst net.Conn, pass func([]byte) bool) {
	defer p.wg.Done()
	defer func() { _ = src.Close(); _ = dst.Close() }()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !pass(buf[:n]) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *LostReply) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
