package sessions_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/sessions"
)

// outageOps calls every method once with ctx and returns each error.
// IsActive's result must be false whatever happens.
func outageOps(t *testing.T, s sessions.Store, ctx func() (context.Context, context.CancelFunc)) map[string]error {
	t.Helper()
	exp := time.Now().Add(time.Hour)
	ops := map[string]func(context.Context) error{
		"IsActive": func(ctx context.Context) error {
			ok, err := s.IsActive(ctx, "u", "s1")
			assert.False(t, ok, "IsActive true during an outage")
			return err
		},
		"Remember": func(ctx context.Context) error {
			return s.Remember(ctx, sessions.Session{ID: "during", UserID: "u", ExpiresAt: exp})
		},
		"Rotate": func(ctx context.Context) error {
			_, err := s.Rotate(ctx, "u", "s1", sessions.Session{ID: "s1-next", ExpiresAt: exp})
			return err
		},
		"ListForUser":      func(ctx context.Context) error { _, err := s.ListForUser(ctx, "u"); return err },
		"Revoke":           func(ctx context.Context) error { return s.Revoke(ctx, "u", "s1") },
		"RevokeAllForUser": func(ctx context.Context) error { _, err := s.RevokeAllForUser(ctx, "u"); return err },
	}
	errs := map[string]error{}
	for name, op := range ops {
		c, cancel := ctx()
		errs[name] = op(c)
		cancel()
	}
	return errs
}

type eventCounter struct {
	mu sync.Mutex
	n  map[sessions.EventType]int
}

func (c *eventCounter) ObserveSession(e sessions.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[sessions.EventType]int{}
	}
	c.n[e.Type]++
}

func (c *eventCounter) get(t sessions.EventType) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[t]
}

func rememberAndCheck(t *testing.T, s sessions.Store, id string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, s.Remember(ctx, sessions.Session{ID: id, UserID: "u", ExpiresAt: time.Now().Add(time.Hour)}))
	ok, err := s.IsActive(ctx, "u", id)
	require.NoError(t, err)
	require.True(t, ok)
}

// TestRedisFailsClosedWhenPaused: a server that accepts connections but
// never answers (SIGSTOP) fails every call within its context's deadline;
// once it continues, the same store works again.
func TestRedisFailsClosedWhenPaused(t *testing.T) {
	srv := redistest.StartServer(t)
	var events eventCounter
	s := newRedisStore(t, srv.Client(), sessions.WithObserver(&events))
	rememberAndCheck(t, s, "s1")

	srv.Pause()
	const deadline = 150 * time.Millisecond
	for name, err := range outageOps(t, s, func() (context.Context, context.CancelFunc) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		return ctx, func() {
			cancel()
			// Bounded by the deadline (plus scheduling slack), not by the
			// client's 3s read timeout.
			assert.Less(t, time.Since(start), deadline+time.Second)
		}
	}) {
		assert.ErrorIs(t, err, sessions.ErrUnavailable, name)
	}
	assert.Equal(t, 6, events.get(sessions.EventBackendError))

	srv.Resume()
	rememberAndCheck(t, s, "after")
}

// TestRedisFailsClosedWhenKilled: a dead server fails every call at once;
// a restarted one (same address) is used again by the same store.
func TestRedisFailsClosedWhenKilled(t *testing.T) {
	srv := redistest.StartServer(t)
	s := newRedisStore(t, srv.Client())
	rememberAndCheck(t, s, "s1")

	srv.Kill()
	for name, err := range outageOps(t, s, func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 500*time.Millisecond)
	}) {
		assert.ErrorIs(t, err, sessions.ErrUnavailable, name)
	}

	srv.Restart() // an empty server: no persistence configured
	ok, err := s.IsActive(context.Background(), "u", "s1")
	require.NoError(t, err)
	assert.False(t, ok, "the data went with the old process")
	rememberAndCheck(t, s, "after")
}

// TestRedisWithoutContextTimeout: a client without ContextTimeoutEnabled
// ignores the context's deadline, so its ReadTimeout bounds the call; the
// store says so at construction.
func TestRedisWithoutContextTimeout(t *testing.T) {
	srv := redistest.StartServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	var logs bytes.Buffer
	s := newRedisStore(t, c, sessions.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	assert.Contains(t, logs.String(), "ContextTimeoutEnabled")
	rememberAndCheck(t, s, "s1")

	srv.Pause()
	start := time.Now()
	ok, err := s.IsActive(context.Background(), "u", "s1")
	assert.False(t, ok)
	assert.ErrorIs(t, err, sessions.ErrUnavailable)
	assert.Less(t, time.Since(start), 200*time.Millisecond+time.Second)
	srv.Resume()
}
