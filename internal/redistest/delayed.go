package redistest

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Delayed is a TCP proxy to a Redis server that delays one script call on
// demand, as a stalled network path or a proxy leg that reorders
// connections would. Once armed, it holds the next script call (EVAL or
// EVALSHA) a client sends, and may drop that client's connection at once;
// go-redis, which then sees the read time out (when its ReadTimeout is
// short) or the connection end, sends the command again on a new
// connection, which the proxy passes on: the call succeeds. The held
// command reaches the server only when the test calls Release, after
// whatever the test did meanwhile, and the server runs the script a second
// time, late. It is closed when the test ends.
type Delayed struct {
	*proxy
	armed    atomic.Bool
	drop     atomic.Bool
	held     chan struct{} // closed when a call is held
	release  chan struct{} // closed by Release
	answered chan struct{} // closed when the server answered the held call
	relOnce  sync.Once
	ansOnce  sync.Once
}

// NewDelayed starts a proxy on a free loopback port to upstream
// (host:port). Point a client at Addr.
func NewDelayed(t testing.TB, upstream string) *Delayed {
	t.Helper()
	p := &Delayed{held: make(chan struct{}), release: make(chan struct{}), answered: make(chan struct{})}
	p.proxy = startProxy(t, upstream, p.connect)
	return p
}

// Arm makes the proxy hold the next script call until Release; with drop,
// it also closes that client's connection at once (the client sees EOF).
// Arm once per proxy.
func (p *Delayed) Arm(drop bool) {
	p.drop.Store(drop)
	p.armed.Store(true)
}

// Held is closed once a script call is held.
func (p *Delayed) Held() <-chan struct{} { return p.held }

// Release passes the held call on to the server.
func (p *Delayed) Release() { p.relOnce.Do(func() { close(p.release) }) }

// Answered is closed once the server has answered the held call: it has
// run the script.
func (p *Delayed) Answered() <-chan struct{} { return p.answered }

func (p *Delayed) connect(c, _ net.Conn) (up, down func([]byte) bool, linger func()) {
	var delayed atomic.Bool // this connection carries the held call
	up = func(b []byte) bool {
		if !bytes.Contains(bytes.ToLower(b), []byte("eval")) || !p.armed.CompareAndSwap(true, false) {
			return true
		}
		delayed.Store(true)
		if p.drop.Load() {
			_ = c.Close()
		}
		close(p.held)
		select {
		case <-p.release:
			return true
		case <-p.done:
			return false
		}
	}
	down = func([]byte) bool {
		if delayed.Load() {
			p.ansOnce.Do(func() { close(p.answered) })
		}
		return true
	}
	// The held call's connection to the server stays open until the
	// server has answered, even once the client has gone.
	linger = func() {
		if delayed.Load() {
			select {
			case <-p.answered:
			case <-p.done:
			}
		}
	}
	return up, down, linger
}
