package redistest

import (
	"net"
	"sync"
	"testing"
)

// proxy is a TCP proxy to a Redis server whose traffic passes through
// filters: the plumbing LostReply and Delayed share. For each client
// connection c (and its connection s to the server), connect returns the
// filter of each direction, which approves each chunk read before it is
// passed on (false ends the connection), and linger, which the upward pipe
// calls before it closes both connections.
type proxy struct {
	ln       net.Listener
	upstream string
	connect  func(c, s net.Conn) (up, down func([]byte) bool, linger func())
	done     chan struct{} // closed when the proxy closes
	wg       sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
}

// startProxy starts a proxy on a free loopback port to upstream
// (host:port), closed when the test ends.
func startProxy(t testing.TB, upstream string, connect func(c, s net.Conn) (up, down func([]byte) bool, linger func())) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: proxy: %v", err)
	}
	p := &proxy{ln: ln, upstream: upstream, connect: connect, done: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port.
func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
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
		up, down, linger := p.connect(c, s)
		p.wg.Add(2)
		go p.pipe(c, s, linger, up)
		go p.pipe(s, c, func() {}, down)
	}
}

// pipe copies from src to dst while pass approves each chunk read, then
// calls linger and closes both. A write to a closed dst ends it too.
func (p *proxy) pipe(src, dst net.Conn, linger func(), pass func([]byte) bool) {
	defer p.wg.Done()
	defer func() { linger(); _ = src.Close(); _ = dst.Close() }()
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

func (p *proxy) close() {
	close(p.done)
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
