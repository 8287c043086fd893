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
			// client's 5s read timeout.
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
// does not cut a read at the context's deadline, so a call to a paused
// Redis ends by the client's ReadTimeout and retries, as the package docs
// say; the store's WARN at construction states those figures.
func TestRedisWithoutContextTimeout(t *testing.T) {
	srv := redistest.StartServer(t)
	const readTimeout = 200 * time.Millisecond
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: readTimeout, MaxRetries: 2})
	t.Cleanup(func() { _ = c.Close() })
	var logs bytes.Buffer
	s := newRedisStore(t, c, sessions.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	assert.Contains(t, logs.String(), "level=WARN")
	assert.Contains(t, logs.String(), "lacks ContextTimeoutEnabled")
	assert.Contains(t, logs.String(), "up to 200ms (ReadTimeout) after its context's deadline")
	assert.Contains(t, logs.String(), "up to 3 attempts of 200ms (about 600ms)")
	rememberAndCheck(t, s, "s1")

	srv.Pause()
	defer srv.Resume()
	// With a deadline: the read under way is not cut at the deadline, and
	// no attempt starts after it.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	ok, err := s.IsActive(ctx, "u", "s1")
	took := time.Since(start)
	assert.False(t, ok)
	assert.ErrorIs(t, err, sessions.ErrUnavailable)
	assert.GreaterOrEqual(t, took, readTimeout, "the read ran past the 50ms deadline")
	assert.Less(t, took, 50*time.Millisecond+readTimeout+time.Second)
	// Without one: at most MaxRetries+1 read timeouts.
	start = time.Now()
	ok, err = s.IsActive(context.Background(), "u", "s1")
	took = time.Since(start)
	assert.False(t, ok)
	assert.ErrorIs(t, err, sessions.ErrUnavailable)
	assert.GreaterOrEqual(t, took, readTimeout)
	assert.Less(t, took, 3*readTimeout+time.Second)
}

// The WARN reads the bound from a cluster client's options too: rounds of
// redirects times attempts per node.
func TestRedisWithoutContextTimeoutClusterWarn(t *testing.T) {
	for _, tc := range []struct {
		opts redis.ClusterOptions
		want string
	}{
		{redis.ClusterOptions{}, "up to 4 attempts of 5s (about 20s)"},
		{redis.ClusterOptions{ReadTimeout: time.Second, MaxRedirects: 1, MaxRetries: 2}, "up to 6 attempts of 1s (about 6s)"},
		{redis.ClusterOptions{ReadTimeout: -1}, "has no ReadTimeout: a call to a Redis that stops answering may never return"},
	} {
		tc.opts.Addrs = []string{"127.0.0.1:1"}
		c := redis.NewClusterClient(&tc.opts)
		var logs bytes.Buffer
		_, err := sessions.NewRedisStore(c, sessions.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		require.NoError(t, err)
		assert.Contains(t, logs.String(), tc.want)
		require.NoError(t, c.Close())
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer c.Close()
	var logs bytes.Buffer
	_, err := sessions.NewRedisStore(c, sessions.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	assert.Empty(t, logs.String(), "no WARN with ContextTimeoutEnabled")
}
