package sessions

import (
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/redis/go-redis/v9"
)

// checkClient refuses a client the store cannot use safely: nil, a nil
// pointer inside the interface (it would panic at the first call), a
// *redis.Ring, or a cluster client that sends reads to replicas (see
// NewRedisStore).
func checkClient(c redis.UniversalClient) error {
	if isNilValue(c) {
		return fmt.Errorf("%w: client: nil", ErrInvalid)
	}
	if _, ok := c.(*redis.Ring); ok {
		return fmt.Errorf("%w: client: a *redis.Ring moves a down node's keys to another node and back, "+
			"which undoes a revocation written meanwhile; use a *redis.Client or a *redis.ClusterClient", ErrInvalid)
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		if o := cc.Options(); o.ReadOnly || o.RouteByLatency || o.RouteRandomly {
			return fmt.Errorf("%w: client: reads from replicas (ClusterOptions ReadOnly, RouteByLatency or "+
				"RouteRandomly), which may not have applied a revoke yet; give the store a client that reads from masters",
				ErrInvalid)
		}
	}
	return nil
}

// isNilValue reports whether v is nil or holds a nil pointer, map, func
// or the like: (*redis.Client)(nil) is a non-nil UniversalClient, and a
// nil ObserverFunc a non-nil Observer; either panics at first use.
func isNilValue(v any) bool {
	if v == nil {
		return true
	}
	switch v := reflect.ValueOf(v); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// contextTimeoutEnabled reports whether the client lets a context's
// deadline bound each call.
func contextTimeoutEnabled(c redis.UniversalClient) bool {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	}
	return true // unknown implementation: nothing to say
}

// stallBound is what ends a call to a Redis that accepts connections but
// stops answering, when the client does not let the context's deadline cut
// a read (no ContextTimeoutEnabled). go-redis then still stops at the
// deadline between attempts, but an attempt under way waits its
// readTimeout out: a call ends up to readTimeout after its deadline. A
// call whose context has no deadline makes up to attempts of them, with
// short pauses between (go-redis v9.22: MinRetryBackoff 10ms doubling to
// MaxRetryBackoff 1s), while the pool has idle connections to try; a
// fresh connection whose handshake times out is not retried.
type stallBound struct {
	readTimeout time.Duration // 0: none, a call may never end
	attempts    int
}

// clientStallBound reads the bound from the client's options, as go-redis
// has filled in its defaults (ReadTimeout 5s; MaxRetries 3 on a Client;
// on a ClusterClient no retry per node and MaxRedirects 3,
// each redirect round being one more attempt). ok is false for a client
// this package does not know.
func clientStallBound(c redis.UniversalClient) (b stallBound, ok bool) {
	tries := func(retries int) int { return max(retries, 0) + 1 }
	switch c := c.(type) {
	case *redis.Client:
		o := c.Options()
		return stallBound{readTimeout: max(o.ReadTimeout, 0), attempts: tries(o.MaxRetries)}, true
	case *redis.ClusterClient:
		o := c.Options()
		return stallBound{readTimeout: max(o.ReadTimeout, 0), attempts: tries(o.MaxRedirects) * tries(o.MaxRetries)}, true
	}
	return stallBound{}, false
}

// warnNoContextTimeout logs, at construction, that the client lets calls
// outlive their contexts' deadlines, and by how much.
func warnNoContextTimeout(l *slog.Logger, c redis.UniversalClient) {
	b, ok := clientStallBound(c)
	switch {
	case !ok:
		l.Warn("sessions: the Redis client lacks ContextTimeoutEnabled: a call to a Redis that stops " +
			"answering is bounded by the client's read timeout and retries, not by its context's deadline")
	case b.readTimeout == 0:
		l.Warn("sessions: the Redis client lacks ContextTimeoutEnabled and has no ReadTimeout: a call to a " +
			"Redis that stops answering may never return; enable ContextTimeoutEnabled")
	default:
		l.Warn(fmt.Sprintf("sessions: the Redis client lacks ContextTimeoutEnabled: a call to a Redis that "+
			"stops answering returns up to %s (ReadTimeout) after its context's deadline, and, without a "+
			"deadline, after up to %d attempts of %s (about %s); enable ContextTimeoutEnabled",
			b.readTimeout, b.attempts, b.readTimeout, time.Duration(b.attempts)*b.readTimeout),
			slog.Duration("read_timeout", b.readTimeout), slog.Int("attempts", b.attempts))
	}
}
