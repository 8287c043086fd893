package metrics_test

import (
	"context"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/metrics"
	"github.com/sytefy/kit/sessions"
)

var sessionNames = []string{
	"kit_sessions_remembered_total", "kit_sessions_rotated_total", "kit_sessions_reuse_detected_total",
	"kit_sessions_revoke_calls_total", "kit_sessions_revoke_all_calls_total", "kit_sessions_revoked_total",
	"kit_sessions_backend_errors_total",
}

const sessionsZero = `
# HELP kit_sessions_remembered_total Sessions stored by Remember.
# TYPE kit_sessions_remembered_total counter
kit_sessions_remembered_total 0
# HELP kit_sessions_rotated_total Successor sessions created by Rotate.
# TYPE kit_sessions_rotated_total counter
kit_sessions_rotated_total 0
# HELP kit_sessions_reuse_detected_total Rotate calls given an already rotated ID; the family was revoked.
# TYPE kit_sessions_reuse_detected_total counter
kit_sessions_reuse_detected_total 0
# HELP kit_sessions_revoke_calls_total Successful Revoke calls, including those that found nothing to revoke.
# TYPE kit_sessions_revoke_calls_total counter
kit_sessions_revoke_calls_total 0
# HELP kit_sessions_revoke_all_calls_total Successful RevokeAllForUser calls.
# TYPE kit_sessions_revoke_all_calls_total counter
kit_sessions_revoke_all_calls_total 0
# HELP kit_sessions_revoked_total Active sessions ended, by cause: revoke, revoke_all, reuse_detected or evicted.
# TYPE kit_sessions_revoked_total counter
kit_sessions_revoked_total{cause="evicted"} 0
kit_sessions_revoked_total{cause="reuse_detected"} 0
kit_sessions_revoked_total{cause="revoke"} 0
kit_sessions_revoked_total{cause="revoke_all"} 0
# HELP kit_sessions_backend_errors_total Store operations that failed closed because the backend failed or the context ended.
# TYPE kit_sessions_backend_errors_total counter
kit_sessions_backend_errors_total 0
`

func TestSessionsSeriesStartAtZero(t *testing.T) {
	m, err := metrics.NewSessions()
	require.NoError(t, err)
	assert.NoError(t, testutil.CollectAndCompare(m, strings.NewReader(sessionsZero), sessionNames...))
}

func TestSessionsCountsEveryEventType(t *testing.T) {
	m, err := metrics.NewSessions()
	require.NoError(t, err)
	for _, e := range []sessions.Event{
		{Type: sessions.EventRemembered},
		{Type: sessions.EventRemembered},
		{Type: sessions.EventRemembered},
		{Type: sessions.EventRotated},
		{Type: sessions.EventReuseDetected, Count: 2},
		{Type: sessions.EventRevoked, Count: 1},
		{Type: sessions.EventRevoked, Count: 0},
		{Type: sessions.EventRevokedAll, Count: 4},
		{Type: sessions.EventRevokedAll, Count: 0},
		{Type: sessions.EventRevokedAll, Count: -1}, // nonsense: counts the call, not -1 sessions
		{Type: sessions.EventEvicted, Count: 2},
		{Type: sessions.EventEvicted, Count: 1},
		{Type: sessions.EventBackendError, Err: sessions.ErrUnavailable},
		{Type: "from-the-future", Count: 7},
	} {
		m.ObserveSession(e)
	}
	want := sessionsExposition(sessionCounts{Remembered: 3, Rotated: 1, ReuseDetected: 1, RevokeCalls: 2, RevokeAllCalls: 3, RevokedByReuse: 2, RevokedByRevoke: 1, RevokedByRevokeAll: 4, BackendErrors: 1, RevokedByEviction: 3})
	assert.NoError(t, testutil.CollectAndCompare(m, strings.NewReader(want), sessionNames...))
}

func TestSessionsRejectsBadOption(t *testing.T) {
	_, err := metrics.NewSessions(metrics.WithConstLabels(map[string]string{"cause": "x"}))
	require.ErrorIs(t, err, metrics.ErrInvalid)
	assert.Contains(t, err.Error(), "WithConstLabels")
}

// A known workload on each store, scraped: every counter is exact.
func TestSessionsStoreWorkload(t *testing.T) {
	backends := map[string]func(t *testing.T, opts ...sessions.Option) sessions.Store{
		"memory": func(t *testing.T, opts ...sessions.Option) sessions.Store {
			s, err := sessions.NewMemoryStore(opts...)
			require.NoError(t, err)
			return s
		},
		"redis": func(t *testing.T, opts ...sessions.Option) sessions.Store {
			r := redistest.New(t)
			s, err := sessions.NewRedisStore(r.Client, append(opts, sessions.WithKeyPrefix(r.Prefix))...)
			require.NoError(t, err)
			return s
		},
	}
	for name, newStore := range backends {
		t.Run(name, func(t *testing.T) {
			m, err := metrics.NewSessions()
			require.NoError(t, err)
			store := newStore(t, sessions.WithObserver(m), sessions.WithRotationGrace(time.Minute),
				sessions.WithMaxSessionsPerUser(3))
			ctx := context.Background()
			exp := time.Now().Add(time.Hour)
			remember := func(user, id string) {
				require.NoError(t, store.Remember(ctx, sessions.Session{ID: id, UserID: user, ExpiresAt: exp}))
			}
			rotate := func(old, next string) (sessions.Session, error) {
				return store.Rotate(ctx, "u1", old, sessions.Session{ID: next, ExpiresAt: exp})
			}

			for _, id := range []string{"a", "b", "c"} {
				remember("u1", id)
			}
			remember("u2", "x")
			remember("u2", "y")

			_, err = rotate("a", "a2") // rotated
			require.NoError(t, err)
			_, err = rotate("a2", "a3") // rotated
			require.NoError(t, err)
			got, err := rotate("a2", "a4") // within grace: a3 again, no event
			require.NoError(t, err)
			require.Equal(t, "a3", got.ID)
			_, err = rotate("a", "a5") // an older generation: reuse, a3 revoked
			require.ErrorIs(t, err, sessions.ErrReuseDetected)

			require.NoError(t, store.Revoke(ctx, "u1", "b")) // ends b
			require.NoError(t, store.Revoke(ctx, "u1", "b")) // nothing left to end
			n, err := store.RevokeAllForUser(ctx, "u1")      // ends c
			require.NoError(t, err)
			require.Equal(t, 1, n)
			n, err = store.RevokeAllForUser(ctx, "u2") // ends x and y
			require.NoError(t, err)
			require.Equal(t, 2, n)
			for _, id := range []string{"p", "q", "r", "s"} { // the fourth evicts one
				remember("u3", id)
			}

			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			active, err := store.IsActive(cancelled, "u1", "c") // fails closed
			require.ErrorIs(t, err, sessions.ErrUnavailable)
			require.False(t, active)

			want := sessionsExposition(sessionCounts{Remembered: 9, Rotated: 2, ReuseDetected: 1, RevokeCalls: 2, RevokeAllCalls: 2, RevokedByReuse: 1, RevokedByRevoke: 1, RevokedByRevokeAll: 3, BackendErrors: 1, RevokedByEviction: 1})
			assert.NoError(t, testutil.CollectAndCompare(m, strings.NewReader(want), sessionNames...))
		})
	}
}

// A Redis that is gone makes every call fail closed, and each one counts.
func TestSessionsBackendErrorsOnADeadRedis(t *testing.T) {
	srv := redistest.StartServer(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	m, err := metrics.NewSessions()
	require.NoError(t, err)
	store, err := sessions.NewRedisStore(client, sessions.WithObserver(m))
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, store.Remember(ctx, sessions.Session{ID: "a", UserID: "u", ExpiresAt: time.Now().Add(time.Hour)}))

	srv.Kill()
	for range 3 {
		active, err := store.IsActive(ctx, "u", "a")
		require.ErrorIs(t, err, sessions.ErrUnavailable)
		require.False(t, active)
	}
	_, err = store.RevokeAllForUser(ctx, "u")
	require.ErrorIs(t, err, sessions.ErrUnavailable)

	assert.EqualValues(t, 4, single(t, gatherOnce(t, m), "kit_sessions_backend_errors_total"))
	assert.EqualValues(t, 1, single(t, gatherOnce(t, m), "kit_sessions_remembered_total"))
	assert.EqualValues(t, 0, single(t, gatherOnce(t, m), "kit_sessions_revoke_all_calls_total"))
}

// sessionCounts are the expected values of the Sessions collector's series.
type sessionCounts struct {
	Remembered, Rotated, ReuseDetected, RevokeCalls, RevokeAllCalls    int
	RevokedByReuse, RevokedByRevoke, RevokedByRevokeAll, BackendErrors int
	RevokedByEviction                                                  int
}

// sessionsTemplate is the Sessions collector's exposition, HELP and TYPE
// lines included, so that a renamed metric or changed help text fails too.
var sessionsTemplate = template.Must(template.New("sessions").Parse(`
# HELP kit_sessions_remembered_total Sessions stored by Remember.
# TYPE kit_sessions_remembered_total counter
kit_sessions_remembered_total {{.Remembered}}
# HELP kit_sessions_rotated_total Successor sessions created by Rotate.
# TYPE kit_sessions_rotated_total counter
kit_sessions_rotated_total {{.Rotated}}
# HELP kit_sessions_reuse_detected_total Rotate calls given an already rotated ID; the family was revoked.
# TYPE kit_sessions_reuse_detected_total counter
kit_sessions_reuse_detected_total {{.ReuseDetected}}
# HELP kit_sessions_revoke_calls_total Successful Revoke calls, including those that found nothing to revoke.
# TYPE kit_sessions_revoke_calls_total counter
kit_sessions_revoke_calls_total {{.RevokeCalls}}
# HELP kit_sessions_revoke_all_calls_total Successful RevokeAllForUser calls.
# TYPE kit_sessions_revoke_all_calls_total counter
kit_sessions_revoke_all_calls_total {{.RevokeAllCalls}}
# HELP kit_sessions_revoked_total Active sessions ended, by cause: revoke, revoke_all, reuse_detected or evicted.
# TYPE kit_sessions_revoked_total counter
kit_sessions_revoked_total{cause="evicted"} {{.RevokedByEviction}}
kit_sessions_revoked_total{cause="reuse_detected"} {{.RevokedByReuse}}
kit_sessions_revoked_total{cause="revoke"} {{.RevokedByRevoke}}
kit_sessions_revoked_total{cause="revoke_all"} {{.RevokedByRevokeAll}}
# HELP kit_sessions_backend_errors_total Store operations that failed closed because the backend failed or the context ended.
# TYPE kit_sessions_backend_errors_total counter
kit_sessions_backend_errors_total {{.BackendErrors}}
`))

// sessionsExposition renders sessionsTemplate with c.
func sessionsExposition(c sessionCounts) string {
	var b strings.Builder
	if err := sessionsTemplate.Execute(&b, c); err != nil {
		panic(err) // a fixed template and a plain struct: cannot fail
	}
	return b.String()
}
