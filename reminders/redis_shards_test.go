package reminders_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/reminders"
)

// TestBrokenShardDelaysHealthyShards: a shard whose claims fail (here a
// wrong-typed key; on a cluster, a master that refuses) backs off alone:
// a reminder due now on a healthy shard is still delivered within pollCap
// (every worker looks at each shard at least once a second), not after
// the failing shard's backoff of up to 5s.
func TestBrokenShardDelaysHealthyShards(t *testing.T) {
	t.Parallel()
	const shards = 2
	r, s := newRedis(t, reminders.WithShards(shards))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Shard 1's lease set is a hash: its claim script fails every time.
	require.NoError(t, r.Client.HSet(ctx, "{"+r.Prefix+":1}:lease", "a", "b").Err())
	var got deliveries
	runWorker(t, s, record(&got))
	time.Sleep(4 * time.Second) // the worker has been failing for a while

	for i := 0; i < 2; i++ {
		id := idOnShard(fmt.Sprint("healthy", i, "-"), 0, shards)
		start := time.Now()
		require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: id, Kind: "k", DueAt: start}))
		require.Eventually(t, func() bool { return got.count(id) == 1 }, 15*time.Second, time.Millisecond)
		assert.Less(t, time.Since(start), time.Second, "a due reminder on healthy shard 0 is delivered within pollCap")
	}
}

// hangShard is a go-redis hook that, once on is set, makes every call that
// names one shard's keys (their hash tag, tag) hang until its context
// ends: a cluster master that accepts connections but no longer answers
// (a partition, a failover that drops packets).
func hangShard(tag string, on *atomic.Bool) redistest.CommandHook {
	return func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
		if on.Load() && strings.Contains(fmt.Sprint(cmd.Args()), tag) {
			<-ctx.Done()
			cmd.SetErr(ctx.Err())
			return ctx.Err()
		}
		return next(ctx, cmd)
	}
}

// TestHungShardDelaysNoOtherShard: a shard whose master hangs holds up
// only its own claim (each claim runs on a goroutine of its own, for up
// to 5s here): reminders due now on the healthy shard are delivered within
// pollCap all the while, not after the hung call's timeout.
func TestHungShardDelaysNoOtherShard(t *testing.T) {
	t.Parallel()
	const shards = 2
	r, _ := newRedis(t, reminders.WithShards(shards))
	c := r.NewClient(t)
	var hung atomic.Bool
	c.AddHook(hangShard("{"+r.Prefix+":1}", &hung))
	s := newOn(t, c, r.Prefix, reminders.WithShards(shards))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var got deliveries
	runWorker(t, s, record(&got))
	time.Sleep(500 * time.Millisecond)
	hung.Store(true)
	time.Sleep(1500 * time.Millisecond) // shard 1 is looked at, and hangs

	worst := time.Duration(0)
	for i := range 6 {
		id := idOnShard(fmt.Sprint("healthy", i, "-"), 0, shards)
		start := time.Now()
		require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: id, Kind: "k", DueAt: start}))
		require.Eventually(t, func() bool { return got.count(id) == 1 }, 20*time.Second, time.Millisecond)
		worst = max(worst, time.Since(start))
		time.Sleep(700 * time.Millisecond)
	}
	assert.Less(t, worst, 1500*time.Millisecond, "worst lateness of a due reminder on healthy shard 0")
}

// TestConcurrencyHeldAcrossShards: however the shards' claims overlap (each
// runs on a goroutine of its own, holding slots until its handlers hold
// them), no more handlers run at once than WithConcurrency, here 4 over 6
// shards, each claim smaller than a shard's due reminders.
func TestConcurrencyHeldAcrossShards(t *testing.T) {
	t.Parallel()
	r, s := newRedis(t, reminders.WithShards(6))
	rs := make([]reminders.Reminder, 60)
	for i := range rs {
		rs[i] = reminders.Reminder{ID: fmt.Sprint("c", i), Kind: "k", DueAt: time.Now()}
	}
	require.NoError(t, s.ScheduleMany(bg(t), rs))
	var running, most atomic.Int64
	var got deliveries
	w := newOn(t, r.Client, r.Prefix, reminders.WithShards(6), reminders.WithConcurrency(4))
	runWorker(t, w, reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		running.Add(-1)
		got.add(d)
		return nil
	}))
	got.waitN(t, len(rs), 20*time.Second)
	assert.LessOrEqual(t, most.Load(), int64(4), "handlers running at once")
	assert.Equal(t, int64(4), most.Load(), "all four slots were used")
}
