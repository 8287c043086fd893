package reminders_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// latenesses records the Lateness of every delivery an observer sees;
// safe for concurrent use.
type latenesses struct {
	mu   sync.Mutex
	late []time.Duration
}

func (l *latenesses) observer() reminders.Observer {
	return reminders.ObserverFunc(func(e reminders.Event) {
		if e.Type == reminders.EventDelivered {
			l.mu.Lock()
			l.late = append(l.late, e.Lateness)
			l.mu.Unlock()
		}
	})
}

func (l *latenesses) all() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.late...)
}

// TestRedisWakesEarly: an idle worker sleeps up to a second between looks,
// yet a reminder scheduled while it sleeps is delivered within
// milliseconds of its DueAt: the schedule script's pub/sub wake-up, not
// the poll, brings it. Five reminders at random phases of the poll: if
// wake-ups failed, each would be late by up to a second (all five under
// 250ms by chance: about 1 in 1000). Schedule and ScheduleMany (a batch
// on one shard, whose script decides the wake-up by comparing due times)
// are checked alike.
func TestRedisWakesEarly(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprint("batch=", batch), func(t *testing.T) {
			t.Parallel()
			var late latenesses
			_, s := newRedis(t, reminders.WithObserver(late.observer()), reminders.WithShards(1))
			var got deliveries
			runWorker(t, s, record(&got))
			for i := range 5 {
				time.Sleep(time.Duration(130+i*170) * time.Millisecond)
				r := reminders.Reminder{ID: fmt.Sprint("w", i), Kind: "k", DueAt: time.Now().Add(50 * time.Millisecond)}
				if batch {
					later := reminders.Reminder{ID: fmt.Sprint("later", i), Kind: "k", DueAt: time.Now().Add(time.Hour)}
					require.NoError(t, s.ScheduleMany(bg(t), []reminders.Reminder{later, r}))
				} else {
					require.NoError(t, s.Schedule(bg(t), r))
				}
				got.waitN(t, i+1, 5*time.Second)
			}
			all := late.all()
			for _, l := range all {
				assert.GreaterOrEqual(t, l, time.Duration(0))
				assert.Less(t, l, 250*time.Millisecond, "lateness %v: woken by the poll, not the wake-up", all)
			}
		})
	}
}

// TestRedisWakeHorizon: Schedule publishes a wake-up only for a reminder
// due within a minute by the Redis clock, whether alone or in a batch. A
// far one is scheduled first on a shard whose head it becomes: without
// the horizon it would publish, and the first message would be its own.
// (The scheduler's first call on a shard reads Redis time and looks at the
// head whatever the due time: the warm-up, whose own wake-up may still
// arrive after subscribing, as a cluster carries PUBLISH to other nodes
// asynchronously, and is skipped.)
func TestRedisWakeHorizon(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprint("batch=", batch), func(t *testing.T) {
			t.Parallel()
			r, s := newRedis(t, reminders.WithShards(1))
			far := time.Now().Add(time.Hour)
			warmUp := far.Add(time.Hour)
			require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "warm-up", Kind: "k", DueAt: warmUp}))
			sub := r.Client.Subscribe(bg(t), r.Prefix+":wake")
			t.Cleanup(func() { _ = sub.Close() })
			_, err := sub.Receive(bg(t)) // the subscription is confirmed
			require.NoError(t, err)

			near := time.Now().Add(30 * time.Second)
			schedule := func(rs ...reminders.Reminder) {
				if batch {
					require.NoError(t, s.ScheduleMany(bg(t), rs))
					return
				}
				for _, x := range rs {
					require.NoError(t, s.Schedule(bg(t), x))
				}
			}
			schedule(reminders.Reminder{ID: "far1", Kind: "k", DueAt: far},
				reminders.Reminder{ID: "far2", Kind: "k", DueAt: far.Add(time.Second)})
			schedule(reminders.Reminder{ID: "near", Kind: "k", DueAt: near},
				reminders.Reminder{ID: "far3", Kind: "k", DueAt: far})

			msg, err := sub.ReceiveMessage(bg(t))
			require.NoError(t, err)
			if msg.Payload == fmt.Sprint("0:", warmUp.Add(time.Millisecond-1).UnixMilli()) {
				msg, err = sub.ReceiveMessage(bg(t))
				require.NoError(t, err)
			}
			assert.Equal(t, fmt.Sprint("0:", near.Add(time.Millisecond-1).UnixMilli()), msg.Payload,
				"the first wake-up after the warm-up's is the near reminder's")
		})
	}
}

// TestRedisWakeHorizonByRedisClock: the horizon is Redis's clock, not the
// scheduling host's. A scheduler whose clock is two minutes behind (by
// which reminders due in 100ms look two minutes away) still wakes a
// sleeping worker for each: every one is delivered within milliseconds,
// not at the worker's next once-a-second look (the pauses between the
// five step through that second's phases, so the poll alone would bring
// at most one of them under 100ms).
func TestRedisWakeHorizonByRedisClock(t *testing.T) {
	t.Parallel()
	var late latenesses
	r, s := newRedis(t, reminders.WithObserver(late.observer()), reminders.WithShards(1))
	behind := newOn(t, r.Client, r.Prefix, reminders.WithShards(1),
		reminders.WithClock(func() time.Time { return time.Now().Add(-2 * time.Minute) }))
	// Warm-up: the scheduler has measured Redis time, and the worker
	// sleeps toward a far head.
	require.NoError(t, behind.Schedule(bg(t), reminders.Reminder{ID: "far", Kind: "k", DueAt: time.Now().Add(time.Hour)}))
	var got deliveries
	runWorker(t, s, record(&got))
	for i := range 5 {
		time.Sleep(time.Duration(130+i*170) * time.Millisecond)
		require.NoError(t, behind.Schedule(bg(t), reminders.Reminder{ID: fmt.Sprint("x", i), Kind: "k", DueAt: time.Now().Add(100 * time.Millisecond)}))
		got.waitN(t, i+1, 5*time.Second)
	}
	assertNotEarly(t, &got)
	all := late.all()
	for _, l := range all {
		assert.Less(t, l, 100*time.Millisecond, "lateness %v: found by the poll, not woken", all)
	}
}

// TestRedisSkewedClock: a worker whose local clock is 90s ahead or behind
// still delivers by Redis time: not 90s early, not 90s late. It warns,
// once, that the host clock differs from Redis.
func TestRedisSkewedClock(t *testing.T) {
	for _, skew := range []time.Duration{90 * time.Second, -90 * time.Second} {
		t.Run(fmt.Sprint(skew), func(t *testing.T) {
			t.Parallel()
			r, s := newRedis(t)
			logs := &logBuffer{}
			skewed := newOn(t, r.Client, r.Prefix, reminders.WithClock(func() time.Time { return time.Now().Add(skew) }),
				reminders.WithLogger(slog.New(logs)))
			var got deliveries
			runWorker(t, skewed, record(&got))
			due := time.Now().Add(700 * time.Millisecond)
			require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "skew", Kind: "k", DueAt: due}))
			got.waitN(t, 1, 10*time.Second) // a 90s-late worker fails here
			assertNotEarly(t, &got)         // a 90s-early one fails here
			warned := logs.find(slog.LevelWarn, "host clock differs from Redis")
			require.Len(t, warned, 1)
			off, err := time.ParseDuration(warned[0]["redis_minus_host"])
			require.NoError(t, err)
			assert.InDelta(t, float64(-skew), float64(off), float64(time.Second), "the reported skew")
		})
	}
}

// steppedWallClock is a WithClock clock that reads time.Now until it is
// stepped, the way NTP steps a host's wall clock.
type steppedWallClock struct{ step atomic.Int64 }

func (c *steppedWallClock) now() time.Time { return time.Now().Add(time.Duration(c.step.Load())) }

// TestRedisWallClockStep: the host's wall clock is stepped by a minute
// after the worker measured Redis time. Stepped forward, the worker neither
// delivers early nor takes back another worker's live lease (which would
// deliver that reminder twice); stepped back, it is not late. (Redis runs
// on this host, so the local clock is Redis's, unstepped.)
func TestRedisWallClockStep(t *testing.T) {
	t.Run("forward", func(t *testing.T) {
		t.Parallel()
		// Leases far shorter than the step, yet long enough that a loaded
		// host renews them in time.
		const lease = 5 * time.Second
		r, s := newRedis(t)
		var got deliveries
		held := make(chan struct{}, 1)
		h := reminders.HandlerFunc(func(ctx context.Context, d reminders.Delivery) error {
			got.add(d)
			if d.ID == "held" && d.Attempt == 1 {
				held <- struct{}{}
				select { // renewed once meanwhile
				case <-time.After(2500 * time.Millisecond):
				case <-ctx.Done():
				}
			}
			return nil
		})
		// A worker with a true clock, busy with "held".
		runWorker(t, newOn(t, r.Client, r.Prefix, reminders.WithLease(lease), reminders.WithConcurrency(1)), h)
		require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "held", Kind: "k", DueAt: time.Now()}))
		<-held

		var clock steppedWallClock
		stepped := newOn(t, r.NewClient(t), r.Prefix, reminders.WithLease(lease), reminders.WithClock(clock.now))
		runWorker(t, stepped, h)
		require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "warm-up", Kind: "k", DueAt: time.Now()}))
		require.Eventually(t, func() bool { return got.count("warm-up") == 1 }, 5*time.Second, 5*time.Millisecond,
			"the stepped worker has measured Redis time")
		clock.step.Store(int64(time.Minute))

		require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "target", Kind: "k", DueAt: time.Now().Add(time.Second)}))
		require.Eventually(t, func() bool { return got.count("target") == 1 }, 10*time.Second, 5*time.Millisecond)
		assertNotEarly(t, &got)
		require.Eventually(t, func() bool {
			_, err := s.Get(bg(t), "held")
			return errors.Is(err, reminders.ErrNotFound)
		}, 10*time.Second, 10*time.Millisecond, "held acknowledged")
		assert.Equal(t, 1, got.count("held"), "a live lease was not taken back")
	})
	t.Run("back", func(t *testing.T) {
		t.Parallel()
		r, s := newRedis(t)
		var clock steppedWallClock
		var got deliveries
		runWorker(t, newOn(t, r.Client, r.Prefix, reminders.WithClock(clock.now)), record(&got))
		require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "warm-up", Kind: "k", DueAt: time.Now()}))
		got.waitN(t, 1, 5*time.Second)
		clock.step.Store(int64(-time.Minute))

		due := time.Now().Add(300 * time.Millisecond)
		require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "target", Kind: "k", DueAt: due}))
		// Not a minute late, nor the 30s until the next measurement.
		got.waitN(t, 2, 5*time.Second)
		assertNotEarly(t, &got)
	})
}

// TestRedisClockBehindEstimate: Redis's own clock falls a minute behind
// what the worker measured (as after a failover to a master whose clock is
// behind; miniredis can set its TIME). The worker does not deliver by its
// estimate: a reminder is not due until Redis TIME says so. The worker
// measures again and warns.
func TestRedisClockBehindEstimate(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	r, s := newRedis(t, reminders.WithLogger(slog.New(logs)))
	if r.Mini == nil {
		t.Skip("needs miniredis, whose TIME can be set")
	}
	var got deliveries
	runWorker(t, s, record(&got))
	require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "warm-up", Kind: "k", DueAt: time.Now()}))
	got.waitN(t, 1, 5*time.Second)

	behind := time.Now().Add(-time.Minute)
	r.Mini.SetTime(behind) // TIME reads this from now on
	due := time.Now().Add(200 * time.Millisecond)
	require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "target", Kind: "k", DueAt: due}))
	time.Sleep(1500 * time.Millisecond)
	assert.Zero(t, got.count("target"), "delivered by the worker's estimate, before Redis TIME reached its DueAt")
	assert.NotEmpty(t, logs.find(slog.LevelWarn, "Redis time is behind"))

	r.Mini.SetTime(time.Time{}) // Redis time jumps forward (to the true time)
	got.waitN(t, 2, 5*time.Second)
	assertNotEarly(t, &got)
}

// TestRedisClockAheadOfEstimate: Redis's clock jumps an hour ahead of
// what the worker measured (a failover to a master whose clock is ahead).
// A lease the worker asks for by its estimate would have ended an hour
// ago by Redis's clock, and the next claim would take the reminder back
// and deliver it again while its first attempt still runs. The claim
// script makes a new lease last its length by its own clock (a 9s lease:
// the worker's next claim comes before its first renewal, at a third of
// the lease); a renewal does too, and never shortens a lease (a 1s lease:
// renewals come first; the test fails without both guards, though either
// alone holds here, once the worker has measured the new clock).
func TestRedisClockAheadOfEstimate(t *testing.T) {
	for _, lease := range []time.Duration{9 * time.Second, time.Second} {
		t.Run(lease.String(), func(t *testing.T) {
			t.Parallel()
			r, s := newRedis(t, reminders.WithLease(lease))
			if r.Mini == nil {
				t.Skip("needs miniredis, whose TIME can be set")
			}
			var got deliveries
			runWorker(t, s, reminders.HandlerFunc(func(ctx context.Context, d reminders.Delivery) error {
				got.add(d)
				if d.ID != "x" {
					// Done before the jump: a lease taken before it ends
					// an hour early by the new clock, whatever the scripts do.
					return nil
				}
				select { // past the worker's next claims, and renewals of a 1s lease
				case <-time.After(2500 * time.Millisecond):
				case <-ctx.Done():
				}
				return nil
			}))
			require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "warm-up", Kind: "k", DueAt: time.Now()}))
			got.waitN(t, 1, 5*time.Second)
			// The handler has returned once the acknowledgement is in; a
			// lease still held at the jump ends an hour early, and the
			// warm-up is rightly delivered again (at least once).
			require.Eventually(t, func() bool {
				_, err := s.Get(bg(t), "warm-up")
				return errors.Is(err, reminders.ErrNotFound)
			}, 5*time.Second, 5*time.Millisecond, "warm-up acknowledged")

			r.Mini.SetTime(time.Now().Add(time.Hour)) // TIME reads this from now on
			require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "x", Kind: "k", DueAt: time.Now()}))
			require.Eventually(t, func() bool { return got.count("x") == 1 }, 5*time.Second, 5*time.Millisecond)
			time.Sleep(3 * time.Second) // the attempt ends; a lease taken back would have shown by now
			assert.Equal(t, 1, got.count("x"), "delivered again while its first attempt ran")
			assert.Equal(t, 1, got.count("warm-up"))
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

// TestRedisEventShards: the observer hears of each reminder ScheduleMany
// stores once, naming the shard the worker later delivers it from.
func TestRedisEventShards(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	scheduled, delivered := map[string][]int{}, map[string]int{}
	obs := reminders.ObserverFunc(func(e reminders.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e.Type {
		case reminders.EventScheduled:
			scheduled[e.ID] = append(scheduled[e.ID], e.Shard)
		case reminders.EventDelivered:
			delivered[e.ID] = e.Shard
		}
	})
	_, s := newRedis(t, reminders.WithObserver(obs), reminders.WithShards(4))
	var rs []reminders.Reminder
	for i := range 40 {
		rs = append(rs, reminders.Reminder{ID: fmt.Sprint("s", i), Kind: "k", DueAt: time.Now()})
	}
	require.NoError(t, s.ScheduleMany(bg(t), rs))
	var got deliveries
	runWorker(t, s, record(&got))
	got.waitN(t, len(rs), 10*time.Second)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) == len(rs)
	}, 5*time.Second, 5*time.Millisecond)

	mu.Lock()
	defer mu.Unlock()
	used := map[int]bool{}
	for _, r := range rs {
		require.Len(t, scheduled[r.ID], 1, "one scheduled event for %s", r.ID)
		assert.Equal(t, delivered[r.ID], scheduled[r.ID][0], "shard of %s", r.ID)
		used[delivered[r.ID]] = true
	}
	assert.Greater(t, len(used), 1, "40 IDs spread over more than one of 4 shards")
}
