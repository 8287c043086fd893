package reminders_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// TestRedisBadInput: bad input gets ErrInvalid naming what is wrong, and
// nothing is written.
func TestRedisBadInput(t *testing.T) {
	t.Parallel()
	r, s := newRedis(t, reminders.WithMaxPayload(8))
	ctx := bg(t)
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	t.Cleanup(func() { _ = ring.Close() })
	valid := func(i int) reminders.Reminder {
		return reminders.Reminder{ID: fmt.Sprint("ok", i), Kind: "k", DueAt: time.Now()}
	}
	batch := []reminders.Reminder{valid(0), valid(1), {ID: "bad", Kind: "a\tb", DueAt: time.Now()}, valid(3)}
	err := s.ScheduleMany(ctx, batch)
	require.ErrorIs(t, err, reminders.ErrInvalid)
	assert.Contains(t, err.Error(), "reminder 2")
	assert.Contains(t, err.Error(), "Kind")
	err = s.ScheduleMany(ctx, []reminders.Reminder{valid(0), {ID: "big", Kind: "k", DueAt: time.Now(), Payload: make([]byte, 9)}})
	require.ErrorIs(t, err, reminders.ErrInvalid)
	assert.Contains(t, err.Error(), "Payload")

	for name, err := range map[string]error{
		"Cancel":  s.Cancel(ctx, ""),
		"Requeue": s.Requeue(ctx, "a\nb"),
		"Get":     func() error { _, err := s.Get(ctx, strings.Repeat("x", reminders.MaxIDLen+1)); return err }(),
		"Dead":    func() error { _, err := s.Dead(ctx, 0); return err }(),
		"Run":     s.Run(ctx, nil),
		"NewRedisScheduler": func() error {
			_, err := reminders.NewRedisScheduler(nil)
			return err
		}(),
		// Typed nils pass a "client == nil" check and panic at first use.
		"NewRedisScheduler(*redis.Client nil)": func() error {
			_, err := reminders.NewRedisScheduler((*redis.Client)(nil))
			return err
		}(),
		"NewRedisScheduler(*redis.ClusterClient nil)": func() error {
			_, err := reminders.NewRedisScheduler((*redis.ClusterClient)(nil))
			return err
		}(),
		"NewRedisScheduler(*redis.Ring nil)": func() error {
			_, err := reminders.NewRedisScheduler((*redis.Ring)(nil))
			return err
		}(),
		// A Ring re-routes a down node's keys and back: reminders lost.
		"NewRedisScheduler(*redis.Ring)": func() error {
			_, err := reminders.NewRedisScheduler(ring)
			return err
		}(),
		"NewRedisTickStore(*redis.Ring)": func() error {
			_, err := reminders.NewRedisTickStore(ring)
			return err
		}(),
		// Redis refuses a record over proto-max-bulk-len (512 MB).
		"WithMaxPayload over MaxPayloadLimit": func() error {
			_, err := reminders.NewRedisScheduler(r.Client, reminders.WithMaxPayload(reminders.MaxPayloadLimit+1))
			return err
		}(),
		"Run(nil HandlerFunc)": s.Run(ctx, reminders.HandlerFunc(nil)),
		"Run(nil *Mux)":        s.Run(ctx, (*reminders.Mux)(nil)),
		"WithObserver(nil ObserverFunc)": func() error {
			_, err := reminders.NewRedisScheduler(r.Client, reminders.WithObserver(reminders.ObserverFunc(nil)))
			return err
		}(),
		"WithShards": func() error {
			_, err := reminders.NewRedisScheduler(r.Client, reminders.WithShards(0))
			return err
		}(),
		"WithKeyPrefix": func() error {
			_, err := reminders.NewRedisScheduler(r.Client, reminders.WithKeyPrefix("a{b}"))
			return err
		}(),
	} {
		assert.ErrorIs(t, err, reminders.ErrInvalid, name)
	}
	assert.ErrorContains(t, s.Cancel(ctx, ""), "ID")

	keys, err := r.Keys(ctx)
	require.NoError(t, err)
	assert.Empty(t, keys, "nothing written")
	require.NoError(t, s.ScheduleMany(ctx, nil), "an empty batch is no error")
}

// pipelineCounter is a go-redis hook counting round trips, handshakes of
// new connections left out.
type pipelineCounter struct {
	mu        sync.Mutex
	single    int
	pipelines int
	commands  int
	multi     bool // a pipeline ran MULTI/EXEC
}

func (c *pipelineCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		if !redistest.Handshake(cmd) {
			c.single++
		}
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}
func (c *pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if redistest.Handshake(cmds[0]) {
			return next(ctx, cmds)
		}
		c.mu.Lock()
		c.pipelines++
		c.commands += len(cmds)
		for _, cmd := range cmds {
			c.multi = c.multi || cmd.Name() == "multi"
		}
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

// TestRedisScheduleManyRoundTrips: a batch over several shards goes in
// one round trip per shard at most (once the scripts are cached on the
// server), and each reminder lands on its shard: a thousand in a
// MULTI/EXEC transaction per shard, three thousand in one pipeline of
// bounded script calls.
func TestRedisScheduleManyRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		n         int
		pipelines int
		minCmds   int // commands in all
		transact  bool
	}{
		{1000, 3, 3 * (2 + 5), true},   // per shard: MULTI, 5 writes, EXEC
		{3000, 1, 3000/128 + 1, false}, // a script call per 128 reminders or fewer
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			t.Parallel()
			r := redistest.New(t)
			c := r.NewClient(t)
			s := newOn(t, c, r.Prefix, reminders.WithShards(3))
			ctx := bg(t)
			require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "warm", Kind: "k", DueAt: time.Now()}), "loads the script")

			counter := &pipelineCounter{}
			c.AddHook(counter)
			rs := make([]reminders.Reminder, tc.n)
			for i := range rs {
				rs[i] = reminders.Reminder{ID: fmt.Sprint("m", i), Kind: "k", DueAt: time.Now().Add(time.Hour)}
			}
			require.NoError(t, s.ScheduleMany(ctx, rs))
			counter.mu.Lock()
			assert.Equal(t, tc.pipelines, counter.pipelines, "pipelines")
			assert.Equal(t, 0, counter.single, "and nothing else")
			assert.GreaterOrEqual(t, counter.commands, tc.minCmds)
			assert.Equal(t, tc.transact, counter.multi, "MULTI/EXEC")
			counter.mu.Unlock()

			st, err := s.Stats(ctx)
			require.NoError(t, err)
			assert.Equal(t, int64(tc.n+1), st.Pending)
			for _, sh := range st.Shards {
				assert.Positive(t, sh.Pending, "shard %d holds some", sh.Shard)
			}
		})
	}
}

// TestRedisCorruptRecords: records the library did not write (garbage,
// truncated, missing, a Kind with a control character, attempt 0) go to
// the dead set as "corrupt", logged at WARN; none reaches the handler, and
// the good reminder beside them is delivered.
func TestRedisCorruptRecords(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	var deadEvents sync.Map
	obs := reminders.ObserverFunc(func(e reminders.Event) {
		if e.Type == reminders.EventDead {
			deadEvents.Store(e.ID, e.Err)
		}
	})
	// One shard, so the test knows the keys (see keys.go).
	r, s := newRedis(t, reminders.WithShards(1), reminders.WithLogger(slog.New(logs)), reminders.WithObserver(obs))
	ctx := bg(t)
	tag := "{" + r.Prefix + ":0}:"
	past := time.Now().Add(-time.Second).UnixMilli()
	bad := map[string]string{
		"garbage":   "not a record",
		"truncated": "5,1,17",
		"ctrl-kind": fmt.Sprintf("5,1,%d,bad\x01kind\npayload", past),
		"attempt-0": fmt.Sprintf("5,0,%d,k\npayload", past),
		// A version of any length is one to the scripts; parseRecord
		// refuses the record for its Kind, but must keep the version,
		// or dead-lettering it would be refused as stale.
		"long-version": fmt.Sprintf("12345678901234567890,1,%d,bad\x01kind\n", past),
	}
	for id, rec := range bad {
		require.NoError(t, r.Client.HSet(ctx, tag+"rec", id, rec).Err())
	}
	bad["missing"] = ""
	for id := range bad {
		require.NoError(t, r.Client.ZAdd(ctx, tag+"due", redis.Z{Score: float64(past), Member: id}).Err())
	}
	require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "good", Kind: "k", DueAt: time.Now()}))

	var got deliveries
	runWorker(t, s, record(&got))
	require.Eventually(t, func() bool {
		st, err := s.Stats(ctx)
		return err == nil && st.Dead == int64(len(bad)) && got.len() == 1
	}, 10*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	ds, _ := got.all()
	require.Len(t, ds, 1)
	assert.Equal(t, "good", ds[0].ID)

	dead, err := s.Dead(ctx, 100)
	require.NoError(t, err)
	require.Len(t, dead, len(bad))
	for _, d := range dead {
		assert.Contains(t, bad, d.ID)
		assert.Equal(t, "corrupt", d.LastError, d.ID)
		err, ok := deadEvents.Load(d.ID)
		if assert.True(t, ok, "EventDead for %q", d.ID) {
			assert.EqualError(t, err.(error), "corrupt")
		}
	}
	warned := map[string]bool{}
	for _, a := range logs.find(slog.LevelWarn, "dead set") {
		assert.Equal(t, "corrupt", a["reason"])
		warned[a["reminder_id"]] = true
	}
	assert.Len(t, warned, len(bad), "one WARN per corrupt record")

	_, err = s.Get(ctx, "garbage")
	assert.ErrorIs(t, err, reminders.ErrInvalid, "Get of a corrupt record")
	for id := range bad {
		// The scripts' parse accepts some of these (a control character
		// in the Kind, attempt 0); Requeue refuses them all the same.
		assert.ErrorIs(t, s.Requeue(ctx, id), reminders.ErrInvalid, "Requeue of corrupt record %q", id)
	}
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(len(bad)), st.Dead, "Requeue left them dead")
	require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "garbage", Kind: "k", DueAt: time.Now()}),
		"Schedule replaces a corrupt dead record")
	require.Eventually(t, func() bool { return got.count("garbage") == 1 }, 5*time.Second, 5*time.Millisecond)
}

// TestRedisLargeVersions: the scripts take record versions from a
// per-shard counter. Past 10^14, Lua 5.1's tostring would print one as
// "1e+14", a record the scripts themselves call corrupt; they print
// integers in full, so a retry from there is delivered. (miniredis's Lua
// prints them in full either way: real Redis tells.)
func TestRedisLargeVersions(t *testing.T) {
	t.Parallel()
	// One shard, so the test knows the keys (see keys.go).
	r, s := newRedis(t, reminders.WithShards(1), fastBackoff)
	ctx := bg(t)
	require.NoError(t, r.Client.Set(ctx, "{"+r.Prefix+":0}:seq", "99999999999999", 0).Err())
	var got deliveries
	runWorker(t, s, reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
		got.add(d)
		if d.Attempt == 1 {
			return errors.New("transient")
		}
		return nil
	}))
	require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "a", Kind: "k", DueAt: time.Now()}))
	got.waitN(t, 2, 5*time.Second)
	ds, _ := got.all()
	assert.Equal(t, 2, ds[1].Attempt)
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Dead)
}

// WithMaxPayload takes every size up to MaxPayloadLimit.
func TestWithMaxPayloadLimit(t *testing.T) {
	t.Parallel()
	_, err := reminders.NewEagerScheduler(reminders.HandlerFunc(
		func(context.Context, reminders.Delivery) error { return nil }),
		reminders.WithMaxPayload(reminders.MaxPayloadLimit))
	require.NoError(t, err)
}
