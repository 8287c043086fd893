// Package sessionstest is the conformance suite of sessions.Store: every
// invariant of the sessions contract, run against any backend. The
// package's own MemoryStore and RedisStore pass it (on miniredis, a real
// Redis and a Redis Cluster); a new backend shows it keeps the contract by
// passing it too:
//
//	func TestConformance(t *testing.T) {
//		sessionstest.Run(t, func(t *testing.T, opts ...sessions.Option) sessionstest.Harness {
//			s, err := NewMyStore(opts...)
//			require.NoError(t, err)
//			return sessionstest.Harness{Store: s}
//		})
//	}
package sessionstest

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/sessions"
)

// Harness is one test's view of a backend, made by a NewHarness. Only
// Store is required; a nil hook skips the tests that need it.
type Harness struct {
	// Store is the store under test, built with the options the suite
	// passed to NewHarness.
	Store sessions.Store
	// Instance returns another store on the same backend built with the
	// same options: another instance of the application (for a Redis
	// store, on a client of its own). A backend whose instances share no
	// state may return Store itself. nil means Store.
	Instance func() sessions.Store
	// Advance lets d pass for the backend's own expiry, such as Redis key
	// TTLs: miniredis fast-forwards, a real server is waited for. The
	// suite moves the injected clock (sessions.WithClock) itself, and keeps
	// every d it passes here under a second. nil when the backend expires
	// by the injected clock alone.
	Advance func(d time.Duration)
	// Keys returns every key (or entry) the backend holds for this test,
	// each with its remaining TTL; a TTL <= 0 means the key never expires.
	// nil skips the tests that no key is left without a TTL and that
	// nothing is left once every session has expired.
	Keys func(ctx context.Context) (map[string]time.Duration, error)
	// SetRaw overwrites the stored value of session (userID, id), which the
	// suite has remembered, with raw, keeping a TTL: a corrupt value or
	// another user's. nil skips the corrupt-value tests.
	SetRaw func(ctx context.Context, userID, id, raw string) error
}

// NewHarness builds a fresh, empty backend for one test, with opts (the
// suite always passes sessions.WithClock and may pass WithLogger,
// WithObserver, WithRotationGrace and WithMaxSessionsPerUser). It
// registers its own cleanup with t.
type NewHarness func(t *testing.T, opts ...sessions.Option) Harness

// Run runs the conformance suite against the backends newHarness builds,
// one per subtest.
func Run(t *testing.T, newHarness NewHarness) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, NewHarness)
	}{
		{"RememberAndIsActive", testRememberAndIsActive},
		{"ExpiryIsExact", testExpiryIsExact},
		{"RevokeIsIdempotent", testRevokeIsIdempotent},
		{"RevokeRotatedEndsFamily", testRevokeRotatedEndsFamily},
		{"RevokeAllForUser", testRevokeAllForUser},
		{"RevokeAllUnderConcurrentRemember", testRevokeAllUnderConcurrentRemember},
		{"RememberRefusesARevokedID", testRememberRefusesARevokedID},
		{"ListForUser", testListForUser},
		{"MultiInstance", testMultiInstance},
		{"MaxSessionsPerUser", testMaxSessionsPerUser},
		{"EvictionTies", testEvictionTies},
		{"Rotate", testRotate},
		{"RotateKeepsMeta", testRotateKeepsMeta},
		{"RememberRefusesASpentID", testRememberRefusesASpentID},
		{"RotateNotActive", testRotateNotActive},
		{"ConcurrentRotateIsSingleUse", testConcurrentRotateIsSingleUse},
		{"ConcurrentRotateWithGrace", testConcurrentRotateWithGrace},
		{"ReuseRevokesFamily", testReuseRevokesFamily},
		{"GraceAcrossTwoGenerations", testGraceAcrossTwoGenerations},
		{"GraceWindowEdges", testGraceWindowEdges},
		{"NoGraceWithAClockBehind", testNoGraceWithAClockBehind},
		{"GraceWithAClockBehind", testGraceWithAClockBehind},
		{"SubMillisecondGrace", testSubMillisecondGrace},
		{"GraceKeepsToTheFamily", testGraceKeepsToTheFamily},
		{"UserIDsWithKeySyntax", testUserIDsWithKeySyntax},
		{"KeysAreInjective", testKeysAreInjective},
		{"BadInput", testBadInput},
		{"ContextEnded", testContextEnded},
		{"Observer", testObserver},
		{"LogsHoldNoTokenID", testLogsHoldNoTokenID},
		{"CorruptValues", testCorruptValues},
		{"NoKeyWithoutTTL", testNoKeyWithoutTTL},
		{"NothingLeftAfterExpiry", testNothingLeftAfterExpiry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newHarness) })
	}
}

// env is one test's harness with its clock, log and events.
type env struct {
	t      *testing.T
	ctx    context.Context
	h      Harness
	s      sessions.Store
	clk    *clock
	log    *syncBuffer
	events *recorder
}

func setup(t *testing.T, newHarness NewHarness, opts ...sessions.Option) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), clk: newClock(), log: &syncBuffer{}, events: &recorder{}}
	logger := slog.New(slog.NewJSONHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	all := append([]sessions.Option{
		sessions.WithClock(e.clk.Now), sessions.WithLogger(logger), sessions.WithObserver(e.events),
	}, opts...)
	e.h = newHarness(t, all...)
	require.NotNil(t, e.h.Store, "Harness.Store")
	e.s = e.h.Store
	return e
}

// instance returns a second instance of the store.
func (e *env) instance() sessions.Store {
	if e.h.Instance == nil {
		return e.s
	}
	return e.h.Instance()
}

// step lets d pass for the clock and for the backend.
func (e *env) step(d time.Duration) {
	e.clk.Add(d)
	if e.h.Advance != nil {
		e.h.Advance(d)
	}
}

// session returns a session of user that expires ttl from now.
func (e *env) session(user, id string, ttl time.Duration) sessions.Session {
	return sessions.Session{ID: id, UserID: user, ExpiresAt: e.clk.Now().Add(ttl)}
}

func (e *env) remember(s sessions.Session) {
	e.t.Helper()
	require.NoError(e.t, e.s.Remember(e.ctx, s))
}

func (e *env) active(store sessions.Store, user, id string) bool {
	e.t.Helper()
	ok, err := store.IsActive(e.ctx, user, id)
	require.NoError(e.t, err)
	return ok
}

func (e *env) list(user string) []sessions.Session {
	e.t.Helper()
	l, err := e.s.ListForUser(e.ctx, user)
	require.NoError(e.t, err)
	return l
}

func (e *env) ids(user string) []string {
	e.t.Helper()
	var ids []string
	for _, s := range e.list(user) {
		ids = append(ids, s.ID)
	}
	return ids
}

func (e *env) rotate(store sessions.Store, user, old, next string, ttl time.Duration) (sessions.Session, error) {
	return store.Rotate(e.ctx, user, old, e.session(user, next, ttl))
}

// keys returns the backend's keys, or nil when the harness has no Keys.
func (e *env) keys() map[string]time.Duration {
	e.t.Helper()
	if e.h.Keys == nil {
		return nil
	}
	k, err := e.h.Keys(e.ctx)
	require.NoError(e.t, err)
	return k
}

// clock is the injected clock: it stands still unless moved, and starts at
// the current time (to the millisecond) so that a Redis server's TTLs,
// which run on real time, agree with it.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.UnixMilli(time.Now().UnixMilli())} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// recorder is an Observer that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []sessions.Event
}

func (r *recorder) ObserveSession(e sessions.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// take returns the events so far and forgets them.
func (r *recorder) take() []sessions.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

func (r *recorder) count(t sessions.EventType) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Type == t {
			n++
		}
	}
	return n
}

// syncBuffer is a bytes.Buffer for a logger shared by goroutines.
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
