package redistest

import (
	"bytes"
	"net"
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
	*proxy
	armed atomic.Bool
	lost  atomic.Int64
}

// NewLostReply starts a proxy on a free loopback port to upstream
// (host:port). Point a client at Addr.
func NewLostReply(t testing.TB, upstream string) *LostReply {
	t.Helper()
	p := &LostReply{}
	p.proxy = startProxy(t, upstream, p.connect)
	return p
}

// Arm makes the proxy lose the reply to the next script call.
func (p *LostReply) Arm() { p.armed.Store(true) }

// Lost is how many replies the proxy has lost.
func (p *LostReply) Lost() int64 { return p.lost.Load() }

func (p *LostReply) connect(_, _ net.Conn) (up, down func([]byte) bool, linger func()) {
	var script atomic.Bool // a script call went up this connection while armed
	up = func(b []byte) bool {
		if p.armed.Load() && bytes.Contains(bytes.ToLower(b), []byte("eval")) {
			script.Store(true)
		}
		return true
	}
	down = func(b []byte) bool {
		// A NOSCRIPT error is passed on: go-redis then sends EVAL, and
		// the script runs for the first time.
		if !script.Load() || bytes.HasPrefix(b, []byte("-NOSCRIPT")) || !p.armed.CompareAndSwap(true, false) {
			return true
		}
		p.lost.Add(1)
		return false
	}
	return up, down, func() {}
}
