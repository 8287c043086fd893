package reminders_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// TestWorkerStartsWhileAMasterIsDown: a worker started while one cluster
// master fails every command, or leaves every command hanging, serves the
// shards of the masters that answer, and the down master's shards once it
// answers again. Each master's clock is measured apart, concurrently;
// before, the first measurement of Redis time failed as a whole and the
// worker served no shard at all.
func TestWorkerStartsWhileAMasterIsDown(t *testing.T) {
	if redistest.CurrentMode() != redistest.Cluster {
		t.Skip("needs a Redis Cluster (REDIS_CLUSTER_ADDRS): only there are masters measured apart")
	}
	t.Parallel()
	refuse := func(ctx context.Context) error { return errors.New("master down (test)") }
	hang := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	for name, fail := range map[string]func(context.Context) error{"refuses": refuse, "hangs": hang} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			workerWithMasterDown(t, fail)
		})
	}
}

// workerWithMasterDown runs TestWorkerStartsWhileAMasterIsDown with every
// command to one master answered by fail while it is down.
func workerWithMasterDown(t *testing.T, fail func(context.Context) error) {
	r := redistest.New(t)
	const shards = 6
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cc := r.Client.(*redis.ClusterClient)
	masterOf := func(sh int) string {
		node, err := cc.MasterForKey(ctx, fmt.Sprintf("{%s:%d}:due", r.Prefix, sh))
		require.NoError(t, err)
		return node.Options().Addr
	}
	downAddr, up := masterOf(0), -1
	for sh := 1; sh < shards && up < 0; sh++ {
		if masterOf(sh) != downAddr {
			up = sh
		}
	}
	require.GreaterOrEqual(t, up, 0, "every shard on one master")

	// The worker's client, whose commands to downAddr fail while down is
	// set. Shard 0, the down master's, is measured first.
	var down atomic.Bool
	o := *cc.Options()
	o.NewClient = func(opt *redis.Options) *redis.Client {
		c := redis.NewClient(opt)
		if opt.Addr == downAddr {
			c.AddHook(redistest.CommandHook(func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
				if down.Load() {
					err := fail(ctx)
					cmd.SetErr(err)
					return err
				}
				return next(ctx, cmd)
			}))
		}
		return c
	}
	wc := redis.NewClusterClient(&o)
	t.Cleanup(func() { _ = wc.Close() })
	// go-redis reads the command table from a random node at a cluster
	// client's first command; from a hung one, that command waits out its
	// deadline whichever shard it is for. Read it before the master goes.
	require.NoError(t, wc.Exists(ctx, "warm-up").Err())
	down.Store(true)

	s := newOn(t, r.Client, r.Prefix, reminders.WithShards(shards))
	var got deliveries
	runWorker(t, newOn(t, wc, r.Prefix, reminders.WithShards(shards)), record(&got))
	upID, downID := idOnShard("up-", up, shards), idOnShard("down-", 0, shards)
	for _, id := range []string{upID, downID} {
		require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: id, Kind: "k", DueAt: time.Now()}))
	}
	require.Eventually(t, func() bool { return got.count(upID) == 1 }, 15*time.Second, time.Millisecond,
		"a reminder on a shard of a master that answers is delivered")
	assert.Zero(t, got.count(downID), "nothing is claimed from the down master")
	down.Store(false)
	require.Eventually(t, func() bool { return got.count(downID) == 1 }, 20*time.Second, time.Millisecond,
		"the down master's shard is served once it answers")
}

// TestRedisStrayShards: a worker whose WithShards is smaller than another
// instance's of the same prefix cannot deliver the reminders stored under
// the shards it lacks; when it starts, it logs an error naming them.
func TestRedisStrayShards(t *testing.T) {
	t.Parallel()
	r, wide := newRedis(t, reminders.WithShards(4))
	want := map[int]bool{}
	for i := range 40 {
		id := fmt.Sprint("stray-", i)
		require.NoError(t, wide.Schedule(bg(t), reminders.Reminder{ID: id, Kind: "k", DueAt: time.Now().Add(time.Hour)}))
		if sh := reminders.ShardOf(id, 4); sh > 0 {
			want[sh] = true
		}
	}
	require.Len(t, want, 3, "40 IDs cover shards 1 to 3")
	logs := &logBuffer{}
	narrow := newOn(t, r.Client, r.Prefix, reminders.WithShards(1), reminders.WithLogger(slog.New(logs)))
	defer runWorker(t, narrow, reminders.HandlerFunc(func(context.Context, reminders.Delivery) error { return nil }))()
	require.Eventually(t, func() bool {
		return len(logs.find(slog.LevelError, "shards this scheduler does not have")) > 0
	}, 10*time.Second, 10*time.Millisecond)
	got := logs.find(slog.LevelError, "shards this scheduler does not have")[0]
	assert.Equal(t, "[1 2 3]", got["stray_shards"])
	assert.Equal(t, "1", got["shards"])
}
