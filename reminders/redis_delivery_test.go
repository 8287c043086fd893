package reminders_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// record returns a handler that records each delivery, then returns nil.
func record(d *deliveries) reminders.HandlerFunc {
	return func(_ context.Context, x reminders.Delivery) error {
		d.add(x)
		return nil
	}
}

// assertNotEarly checks that no delivery reached its handler before its
// DueAt (local clock, which on this host is Redis's clock too).
func assertNotEarly(t *testing.T, d *deliveries) {
	t.Helper()
	got, at := d.all()
	for i, x := range got {
		assert.False(t, at[i].Before(x.DueAt), "%q handled %s before its DueAt", x.ID, x.DueAt.Sub(at[i]))
	}
}

// TestRedisThreeWorkersExactlyOnce: three workers, each with its own
// client, share 1,500 reminders spread over three shards (six on a
// cluster) and 1.5s, some already due: each is handled exactly once, none
// before its DueAt, and nothing is left behind.
func TestRedisThreeWorkersExactlyOnce(t *testing.T) {
	const n = 1500
	shards := max(testShards(), 3)
	r, s := newRedis(t, reminders.WithShards(shards))
	var got deliveries
	for range 3 {
		w := newOn(t, r.NewClient(t), r.Prefix, reminders.WithShards(shards), reminders.WithConcurrency(20))
		runWorker(t, w, record(&got))
	}
	base := time.Now()
	rs := make([]reminders.Reminder, n)
	for i := range rs {
		due := base.Add(time.Duration(i-100) * time.Millisecond) // 100 already due
		rs[i] = reminders.Reminder{ID: fmt.Sprintf("r:%d", i), Kind: "k", DueAt: due.Add(time.Duration(i%1000) * time.Microsecond)}
	}
	require.NoError(t, s.ScheduleMany(bg(t), rs))

	got.waitN(t, n, 30*time.Second)
	time.Sleep(300 * time.Millisecond) // a second delivery would show by now
	require.Equal(t, n, got.len())
	for _, x := range rs {
		assert.Equal(t, 1, got.count(x.ID), "deliveries of %q", x.ID)
	}
	assertNotEarly(t, &got)
	st, err := s.Stats(bg(t))
	require.NoError(t, err)
	assert.Equal(t, reminders.Stats{Shards: st.Shards}, st, "nothing pending, in flight or dead")
	assert.Len(t, st.Shards, shards)
}

// TestRedisSubSecondDueTimes: reminders due at x.1, x.5, x.9 and x.99s
// (and a sub-millisecond part) are never handed over early.
func TestRedisSubSecondDueTimes(t *testing.T) {
	_, s := newRedis(t)
	var got deliveries
	runWorker(t, s, record(&got))
	sec := time.Now().Truncate(time.Second).Add(time.Second)
	var rs []reminders.Reminder
	for i, frac := range []time.Duration{100, 500, 900, 990} {
		for j, extra := range []time.Duration{0, 999 * time.Microsecond} {
			due := sec.Add(frac*time.Millisecond + extra)
			rs = append(rs, reminders.Reminder{ID: fmt.Sprintf("x.%d.%d", i, j), Kind: "k", DueAt: due})
		}
	}
	for _, r := range rs {
		require.NoError(t, s.Schedule(bg(t), r))
	}
	got.waitN(t, len(rs), 10*time.Second)
	assertNotEarly(t, &got)
	ds, _ := got.all()
	for _, d := range ds {
		for _, r := range rs {
			if r.ID == d.ID {
				assert.False(t, d.DueAt.Before(r.DueAt), "delivered DueAt of %q rounded down", r.ID)
			}
		}
	}
}

// TestRedisWakesEarly: an idle worker sleeps up to a second between looks,
// yet a reminder scheduled while it sleeps is delivered within
// milliseconds of its DueAt: the schedule script's pub/sub wake-up, not
// the poll, brings it. Five reminders at random phases of the poll: if
// wake-ups failed, each would be late by up to a second (all five under
// 250ms by chance: about 1 in 1000).
func TestRedisWakesEarly(t *testing.T) {
	var late []time.Duration
	var mu sync.Mutex
	obs := reminders.ObserverFunc(func(e reminders.Event) {
		if e.Type == reminders.EventDelivered {
			mu.Lock()
			late = append(late, e.Lateness)
			mu.Unlock()
		}
	})
	_, s := newRedis(t, reminders.WithObserver(obs))
	var got deliveries
	runWorker(t, s, record(&got))
	for i := range 5 {
		time.Sleep(time.Duration(130+i*170) * time.Millisecond)
		require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: fmt.Sprint("w", i), Kind: "k", DueAt: time.Now().Add(50 * time.Millisecond)}))
		got.waitN(t, i+1, 5*time.Second)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, l := range late {
		assert.GreaterOrEqual(t, l, time.Duration(0))
		assert.Less(t, l, 250*time.Millisecond, "lateness %v: woken by the poll, not the wake-up", late)
	}
}

// TestRedisSkewedClock: a worker whose local clock is 90s ahead or behind
// still delivers by Redis time: not 90s early, not 90s late.
func TestRedisSkewedClock(t *testing.T) {
	for _, skew := range []time.Duration{90 * time.Second, -90 * time.Second} {
		t.Run(fmt.Sprint(skew), func(t *testing.T) {
			t.Parallel()
			r, s := newRedis(t)
			skewed := newOn(t, r.Client, r.Prefix, reminders.WithClock(func() time.Time { return time.Now().Add(skew) }))
			var got deliveries
			runWorker(t, skewed, record(&got))
			due := time.Now().Add(700 * time.Millisecond)
			require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "skew", Kind: "k", DueAt: due}))
			got.waitN(t, 1, 10*time.Second) // a 90s-late worker fails here
			assertNotEarly(t, &got)         // a 90s-early one fails here
		})
	}
}

// TestRedisLeaseShorterThanDelayAndHandler: a 1s lease, a reminder due in
// 2s whose handler runs 2.5s: the lease is renewed while it runs, so it is
// delivered once, not again when the first lease would have expired.
func TestRedisLeaseShorterThanDelayAndHandler(t *testing.T) {
	_, s := newRedis(t, reminders.WithLease(time.Second))
	var got deliveries
	var finished atomic.Bool
	runWorker(t, s, reminders.HandlerFunc(func(ctx context.Context, d reminders.Delivery) error {
		got.add(d)
		select {
		case <-time.After(2500 * time.Millisecond):
			finished.Store(true)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}))
	require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "long", Kind: "k", DueAt: time.Now().Add(2 * time.Second)}))
	got.waitN(t, 1, 10*time.Second)
	require.Eventually(t, finished.Load, 10*time.Second, 10*time.Millisecond, "the handler kept its context")
	time.Sleep(1500 * time.Millisecond) // past another lease
	assert.Equal(t, 1, got.len())
	assertNotEarly(t, &got)
	_, err := s.Get(bg(t), "long")
	assert.ErrorIs(t, err, reminders.ErrNotFound, "acknowledged")
}
