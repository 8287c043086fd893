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

// slowReply is a go-redis hook that, once armed, holds the reply of the
// next script call for delay (the script has already run in Redis), and
// closes ran when that script has run.
func slowReply(armed *atomic.Bool, ran chan struct{}, delay time.Duration) redistest.CommandHook {
	return func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
		name := strings.ToLower(cmd.Name())
		if (name == "evalsha" || name == "eval") && armed.CompareAndSwap(true, false) {
			err := next(ctx, cmd)
			close(ran)
			time.Sleep(delay)
			return err
		}
		return next(ctx, cmd)
	}
}

// TestWakeDuringClaimIsKept: a wake-up for a shard that arrives while
// that shard's claim is under way (the claim script already ran, its reply
// is on its way) is kept until the claim's result is in, which knows
// nothing of the new reminder: the reminder is delivered as soon as the
// reply arrives, not a poll (1s) later.
func TestWakeDuringClaimIsKept(t *testing.T) {
	t.Parallel()
	r, s := newRedis(t, reminders.WithShards(1))
	c := r.NewClient(t)
	var armed atomic.Bool
	ran := make(chan struct{})
	c.AddHook(slowReply(&armed, ran, 300*time.Millisecond))
	w := newOn(t, c, r.Prefix, reminders.WithShards(1))
	var got deliveries
	runWorker(t, w, record(&got))
	time.Sleep(1500 * time.Millisecond) // scripts loaded, clock measured
	armed.Store(true)
	select {
	case <-ran: // the worker's next claim ran, its reply is held
	case <-time.After(5 * time.Second):
		t.Fatal("no claim")
	}
	start := time.Now()
	require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "woken", Kind: "k", DueAt: start}))
	require.Eventually(t, func() bool { return got.count("woken") == 1 }, 10*time.Second, time.Millisecond)
	// The claim's reply comes 300ms after; the wake-up is then acted on at once.
	assert.Less(t, time.Since(start), 800*time.Millisecond, "a due reminder woken during a claim waits for pollCap")
}

// timeCounter is a go-redis hook that counts TIME commands in n.
func timeCounter(n *atomic.Int64) redistest.CommandHook {
	return func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
		if strings.EqualFold(cmd.Name(), "time") {
			n.Add(1)
		}
		return next(ctx, cmd)
	}
}

// TestRedisDownNoBusyLoop: while Redis is down (every shard fails, and
// with them the measurement of Redis time they ask for), the worker backs
// off its measurements as well as its claims, instead of measuring again at
// every turn, and delivers again once Redis is back.
func TestRedisDownNoBusyLoop(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true, PoolSize: 2, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	var times atomic.Int64
	c.AddHook(timeCounter(&times))
	s, err := reminders.NewRedisScheduler(c, reminders.WithKeyPrefix(redistest.NewPrefix()), reminders.WithShards(2))
	require.NoError(t, err)
	var got deliveries
	runWorker(t, s, record(&got))
	time.Sleep(1500 * time.Millisecond) // measured once
	srv.Kill()
	time.Sleep(3 * time.Second) // every shard fails; the pool gives up dialling (PoolSize dial errors: fails at once)
	before := times.Load()
	time.Sleep(2 * time.Second)
	n := times.Load() - before
	t.Logf("TIME calls in 2s with Redis down: %d", n)
	assert.Less(t, n, int64(100), "TIME calls in 2s while Redis is down (a busy loop)")

	// Redis comes back: the worker delivers again (within its 5s backoff).
	srv.Restart()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.Eventually(t, func() bool {
		return s.Schedule(ctx, reminders.Reminder{ID: "back", Kind: "k", DueAt: time.Now()}) == nil
	}, 10*time.Second, 50*time.Millisecond)
	start := time.Now()
	require.Eventually(t, func() bool { return got.count("back") >= 1 }, 15*time.Second, time.Millisecond)
	assert.Less(t, time.Since(start), 7*time.Second, "delivered after Redis came back")
}

// TestHungShardLowConcurrency: with fewer handler slots than shards (here
// 1 slot, 2 shards), a failing shard's retries, which hang for 5s each,
// hold no slot (a probe claims no reminder): the healthy shard is served
// within a poll all along.
func TestHungShardLowConcurrency(t *testing.T) {
	t.Parallel()
	const shards = 2
	r, _ := newRedis(t, reminders.WithShards(shards))
	c := r.NewClient(t)
	var hung atomic.Bool
	c.AddHook(hangShard("{"+r.Prefix+":1}", &hung))
	s := newOn(t, c, r.Prefix, reminders.WithShards(shards), reminders.WithConcurrency(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var got deliveries
	runWorker(t, s, record(&got))
	time.Sleep(500 * time.Millisecond)
	hung.Store(true)
	time.Sleep(7 * time.Second) // the first hung claim (5s) has failed: shard 1 is failing

	worst := time.Duration(0)
	for i := range 8 {
		id := idOnShard(fmt.Sprint("healthy", i, "-"), 0, shards)
		start := time.Now()
		require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: id, Kind: "k", DueAt: start}))
		require.Eventually(t, func() bool { return got.count(id) == 1 }, 20*time.Second, time.Millisecond)
		worst = max(worst, time.Since(start))
		time.Sleep(700 * time.Millisecond)
	}
	assert.Less(t, worst, 1500*time.Millisecond, "worst lateness of a due reminder on healthy shard 0")
}
