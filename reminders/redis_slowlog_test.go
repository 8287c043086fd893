package reminders_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/reminders"
)

// eachMaster runs fn on the one server, or on every master of a cluster.
func eachMaster(ctx context.Context, c redis.UniversalClient, fn func(context.Context, *redis.Client) error) error {
	switch c := c.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, fn)
	case *redis.Client:
		return fn(ctx, c)
	}
	return fmt.Errorf("unexpected client %T", c)
}

// slowlogEnv gates TestRedisDrainBoundedScripts.
const slowlogEnv = "KIT_SLOWLOG_TEST"

// TestRedisDrainBoundedScripts: 200,000 reminders due at the same second
// are drained by two workers, and no script call of ours takes 5ms or more
// of Redis time (SLOWLOG, on every master): claims and outcomes work in
// bounded batches however many reminders are due.
//
// SLOWLOG measures wall-clock time inside Redis, which a loaded machine
// stretches (go test ./... runs packages in parallel, -race slows the
// workers that feed Redis), so the test runs only when KIT_SLOWLOG_TEST=1,
// alone, on a quiet machine; CI does so in a step of its own:
//
//	KIT_SLOWLOG_TEST=1 REDIS_URL=redis://127.0.0.1:6379/0 go test -count=1 -run '^TestRedisDrainBoundedScripts$' ./reminders
//
// and again with REDIS_CLUSTER_ADDRS instead of REDIS_URL.
func TestRedisDrainBoundedScripts(t *testing.T) {
	if os.Getenv(slowlogEnv) != "1" {
		t.Skip(slowlogEnv + "=1 runs this timing test, alone on a quiet machine and without -race: " +
			slowlogEnv + "=1 REDIS_URL=redis://127.0.0.1:6379/0 go test -count=1 -run '^TestRedisDrainBoundedScripts$' ./reminders")
	}
	r := redistest.New(t)
	if r.Mode == redistest.Mini {
		t.Skip("needs a real Redis: miniredis keeps no SLOWLOG and its timing says nothing of Redis's")
	}
	const n = 200_000
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	shards := max(testShards(), 2)
	s := newOn(t, r.Client, r.Prefix, reminders.WithShards(shards))
	due := time.Now().Truncate(time.Second).Add(time.Second)
	rs := make([]reminders.Reminder, n)
	for i := range rs {
		rs[i] = reminders.Reminder{ID: fmt.Sprint("bulk:", i), Kind: "bulk.kind", DueAt: due, Payload: []byte(`{"n":1}`)}
	}
	require.NoError(t, s.ScheduleMany(ctx, rs))

	// Log every command of 5ms or more, from now on, keeping them all.
	var mu sync.Mutex
	saved := map[string][2]string{}
	require.NoError(t, eachMaster(ctx, r.Client, func(ctx context.Context, c *redis.Client) error {
		cfg, err := c.ConfigGet(ctx, "slowlog-*").Result()
		if err != nil {
			return err
		}
		mu.Lock()
		saved[c.Options().Addr] = [2]string{cfg["slowlog-log-slower-than"], cfg["slowlog-max-len"]}
		mu.Unlock()
		if err := c.ConfigSet(ctx, "slowlog-log-slower-than", "5000").Err(); err != nil {
			return err
		}
		if err := c.ConfigSet(ctx, "slowlog-max-len", "100000").Err(); err != nil {
			return err
		}
		return c.SlowLogReset(ctx).Err()
	}))
	callsBefore := scriptCalls(ctx, t, r.Client)
	t.Cleanup(func() {
		_ = eachMaster(context.Background(), r.Client, func(ctx context.Context, c *redis.Client) error {
			old := saved[c.Options().Addr]
			_ = c.ConfigSet(ctx, "slowlog-log-slower-than", old[0]).Err()
			return c.ConfigSet(ctx, "slowlog-max-len", old[1]).Err()
		})
	})

	var handled sync.Map
	var count int64
	var cmu sync.Mutex
	h := reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
		if _, dup := handled.LoadOrStore(d.ID, true); !dup {
			cmu.Lock()
			count++
			cmu.Unlock()
		}
		return nil
	})
	// Leave a core to Redis: on a loaded two-core host a race-instrumented
	// worker would otherwise starve it, and SLOWLOG would time the OS.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	start := time.Now()
	canaryCtx, stopCanary := context.WithCancel(ctx)
	defer stopCanary()
	go func() { // trivial commands, timed by SLOWLOG like the scripts
		// One canary key per shard's hash tag, so that every master the
		// scripts run on is probed: on a cluster a stalled node other than
		// the canary's would otherwise pass for a slow script.
		for i := 0; canaryCtx.Err() == nil; i = (i + 1) % shards {
			_ = r.Client.Exists(canaryCtx, fmt.Sprintf("{%s:%d}:canary", r.Prefix, i)).Err()
			time.Sleep(time.Millisecond)
		}
	}()
	for range 2 {
		runWorker(t, newOn(t, r.NewClient(t), r.Prefix, reminders.WithShards(shards), reminders.WithConcurrency(200)), h)
	}
	require.Eventually(t, func() bool {
		st, err := s.Stats(ctx)
		return err == nil && st.Pending == 0 && st.InFlight == 0
	}, 4*time.Minute, 100*time.Millisecond)
	stopCanary()
	t.Logf("drained %d reminders in %s", n, time.Since(start).Round(time.Millisecond))
	cmu.Lock()
	assert.Equal(t, int64(n), count, "every reminder handled")
	cmu.Unlock()

	logs := map[string][]redis.SlowLog{}
	require.NoError(t, eachMaster(ctx, r.Client, func(ctx context.Context, c *redis.Client) error {
		entries, err := c.SlowLogGet(ctx, -1).Result()
		mu.Lock()
		logs[c.Options().Addr] = entries
		mu.Unlock()
		return err
	}))
	checkSlowScripts(t, r.Prefix, logs, scriptCalls(ctx, t, r.Client)-callsBefore)
}

// scriptCalls is how many scripts the masters have run (INFO
// commandstats: EVALSHA and EVAL), summed.
func scriptCalls(ctx context.Context, t *testing.T, c redis.UniversalClient) int {
	t.Helper()
	var mu sync.Mutex
	total := 0
	require.NoError(t, eachMaster(ctx, c, func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "commandstats").Result()
		if err != nil {
			return err
		}
		for _, line := range strings.Split(info, "\n") {
			for _, cmd := range []string{"cmdstat_evalsha:calls=", "cmdstat_eval:calls="} {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(line), cmd); ok {
					n, _ := strconv.Atoi(rest[:strings.IndexByte(rest+",", ',')])
					mu.Lock()
					total += n
					mu.Unlock()
				}
			}
		}
		return nil
	}))
	return total
}

// checkSlowScripts fails for script calls on prefix's keys that took 5ms
// or more of their own, on a host that gave Redis the CPU; calls is how
// many script calls the drain made in all.
//
// SLOWLOG times commands by the wall clock, so on a loaded host the OS
// stopping Redis shows as a slow command. Redis logs a slow command run by
// a script just before the script, so the time of such a trivial one is
// subtracted: a ZSCORE of 40ms says the process was descheduled, its work
// being O(log n). (A batched command, an HMGET of 32 records, is the
// script's own work and counts as such.) What
// remains is the script's own, unless the OS stopped Redis between two of
// its commands; that only a starved Redis does, and a starved Redis also
// shows a trivial command of ours (a canary EXISTS, a ZSCORE in a script)
// as slow. Then SLOWLOG cannot judge, and the check is skipped, saying so.
//
// A virtual machine's host can also stop the whole guest for a few ms
// (steal time), which no canary of ours sees unless it is the command
// running then (42ms has been seen in CI here, and 25 such calls in one
// cluster drain). So isolated slow calls, at most one in 500 and none of
// 100ms or more, are logged as such stalls and pass. What this
// test guards against is work per call that grows with what is due: every
// claim and settle here has the same shape and size, so that shows as
// slow calls by the hundred (claims of 200 instead of 32 gave 137 in
// one drain here).
func checkSlowScripts(t *testing.T, prefix string, logs map[string][]redis.SlowLog, calls int) {
	t.Helper()
	isScript := func(e redis.SlowLog) bool {
		return len(e.Args) > 0 && strings.HasPrefix(strings.ToLower(e.Args[0]), "eval")
	}
	ours := func(e redis.SlowLog) bool { return strings.Contains(strings.Join(e.Args, " "), prefix) }
	// trivial: a command of ours on one key and at most one member or
	// field (EXISTS, ZSCORE, HGET, ZADD of one): O(1) or O(log n) work.
	trivial := func(e redis.SlowLog) bool { return len(e.Args) <= 4 }
	var slow []string
	var longest time.Duration
	starved := 0 // on the host: every master of these tests runs on it
	for addr, entries := range logs {
		byID := make(map[int64]redis.SlowLog, len(entries))
		for _, e := range entries {
			byID[e.ID] = e
		}
		for _, e := range entries {
			if !ours(e) {
				continue
			}
			if !isScript(e) {
				if trivial(e) {
					starved++
				}
				continue
			}
			own := e.Duration
			for id := e.ID - 1; ; id-- {
				inner, ok := byID[id]
				if !ok || isScript(inner) || !ours(inner) {
					break
				}
				if trivial(inner) { // a batched one (HMGET of many) is the script's work
					own -= inner.Duration
				}
			}
			if own >= 5*time.Millisecond {
				slow = append(slow, fmt.Sprintf("%s: a script took %s (%s of its own): %.120s", addr, e.Duration, own, strings.Join(e.Args, " ")))
				longest = max(longest, own)
			}
		}
	}
	if len(slow) == 0 {
		return
	}
	if longest < 100*time.Millisecond && len(slow) <= max(2, calls/500) {
		t.Logf("%d of %d script calls took 5ms or more, isolated (a host stall, not work per call), e.g. %s", len(slow), calls, slow[0])
		return
	}
	if starved > 0 {
		t.Skipf("the host starved Redis of CPU (%d trivial commands took 5ms or more), so SLOWLOG cannot judge the %d slow script calls, e.g. %s",
			starved, len(slow), slow[0])
	}
	for _, msg := range slow {
		t.Error(msg)
	}
}
