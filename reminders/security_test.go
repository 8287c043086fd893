package reminders_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/reminders"
	"github.com/sytefy/kit/reminders/remindertest"
)

// TestRedisSchedulerOverTLSWithACL runs the conformance suite against a
// redis-server that speaks only TLS (certificates made for this test) and
// admits only an ACL user, connecting the way an application does: a
// rediss://user:pass@host URL through redis.ParseURL, plus the CA.
func TestRedisSchedulerOverTLSWithACL(t *testing.T) {
	srv := redistest.StartTLSServer(t)
	remindertest.Run(t, func(t *testing.T, h reminders.Handler, opts ...reminders.Option) reminders.Scheduler {
		opt, err := srv.Options(redistest.TLSPassword)
		require.NoError(t, err)
		c := redis.NewClient(opt)
		t.Cleanup(func() { _ = c.Close() })
		s := newOn(t, c, redistest.NewPrefix(), opts...)
		runWorker(t, s, h)
		return s
	})
}

// TestRedisSchedulerWrongPassword: a client Redis refuses gets a clear
// error wrapping ErrUnavailable that names the refusal; a worker on it
// delivers nothing, keeps trying, and stops cleanly.
func TestRedisSchedulerWrongPassword(t *testing.T) {
	srv := redistest.StartTLSServer(t)
	ctx := bg(t)
	good := newOn(t, srv.Client(redistest.TLSPassword), "app")
	bad := newOn(t, srv.Client("wrong-password"), "app")
	require.NoError(t, good.Schedule(ctx, reminders.Reminder{ID: "r1", Kind: "k", DueAt: time.Now()}))

	err := bad.Schedule(ctx, reminders.Reminder{ID: "r2", Kind: "k", DueAt: time.Now()})
	require.ErrorIs(t, err, reminders.ErrUnavailable)
	assert.Contains(t, err.Error(), "WRONGPASS", "the error says why")
	assert.ErrorIs(t, bad.Cancel(ctx, "r1"), reminders.ErrUnavailable)
	_, err = bad.Stats(ctx)
	assert.ErrorIs(t, err, reminders.ErrUnavailable)

	var got deliveries
	stop := runWorker(t, bad, record(&got))
	time.Sleep(500 * time.Millisecond)
	stop()
	assert.Zero(t, got.len(), "a refused worker delivered")
	st, err := good.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(1), st.Pending, "r1 is still pending, r2 was never stored")
}

// TestRedisSchedulerPrefixesIsolate: two applications on one Redis, with
// different key prefixes and the same reminder IDs, never see, deliver or
// cancel each other's reminders.
func TestRedisSchedulerPrefixesIsolate(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	// Cleanup of r deletes every key containing r.Prefix: both apps'.
	a := newOn(t, r.Client, r.Prefix+"-a")
	b := newOn(t, r.NewClient(t), r.Prefix+"-a-b")
	ctx := bg(t)
	var gotA, gotB deliveries
	runWorker(t, b, record(&gotB))

	require.NoError(t, a.Schedule(ctx, reminders.Reminder{ID: "only-a", Kind: "k", DueAt: time.Now()}))
	require.NoError(t, a.Schedule(ctx, reminders.Reminder{ID: "both", Kind: "a", DueAt: time.Now().Add(time.Hour)}))
	require.NoError(t, b.Schedule(ctx, reminders.Reminder{ID: "both", Kind: "b", DueAt: time.Now()}))
	gotB.waitN(t, 1, 10*time.Second)
	ctxB := context.Background()
	assert.ErrorIs(t, b.Cancel(ctxB, "only-a"), reminders.ErrNotFound)
	_, err := b.Get(ctxB, "only-a")
	assert.ErrorIs(t, err, reminders.ErrNotFound)
	time.Sleep(300 * time.Millisecond) // b's worker had its chance at a's reminders
	ds, _ := gotB.all()
	require.Len(t, ds, 1, "b's worker delivered only b's reminder")
	assert.Equal(t, "b", ds[0].Kind)

	st, err := a.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(2), st.Pending, "a's reminders untouched by b")
	info, err := a.Get(ctx, "both")
	require.NoError(t, err)
	assert.Equal(t, "a", info.Kind, "b's Schedule of the same ID did not replace a's")

	runWorker(t, a, record(&gotA))
	gotA.waitN(t, 1, 10*time.Second)
	ds, _ = gotA.all()
	assert.Equal(t, "only-a", ds[0].ID)
}
