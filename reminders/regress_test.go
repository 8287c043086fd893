package reminders_test

// Regression tests for findings of a review: each failed on the code as
// it was reviewed.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/reminders"
)

// isClaim recognises the worker's claim script calls: 8 keys, then 8
// arguments of which the 4th is the 1 MiB byte bound and the 6th the
// expired-lease batch of 100.
func isClaim(cmd redis.Cmder) bool {
	a := cmd.Args()
	if len(a) != 19 { // evalsha, sha, numkeys, 8 keys, 8 arguments
		return false
	}
	name := fmt.Sprint(a[0])
	if name != "evalsha" && name != "eval" {
		return false
	}
	return fmt.Sprint(a[14]) == fmt.Sprint(1<<20) && fmt.Sprint(a[16]) == "100"
}

// claimSpy is a go-redis hook that recognises the worker's claim script
// calls (isClaim) and calls onStart before each and onClaim after each
// that succeeded (not EVALSHA's NOSCRIPT, which Script.Run follows with
// EVAL).
func claimSpy(onStart, onClaim func()) redistest.CommandHook {
	return func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
		if onStart != nil && isClaim(cmd) {
			onStart()
		}
		err := next(ctx, cmd)
		if err == nil && onClaim != nil && isClaim(cmd) {
			onClaim()
		}
		return err
	}
}

// TestRunStopsClaimingWhenCtxEnds: cancelling Run's context stops
// claiming (Run's doc, DESIGN.md's graceful shutdown). Its context ends
// as the first claim returns a full batch (32 of 64 due reminders, 64
// handler slots): a worker that went on would claim the rest at once.
func TestRunStopsClaimingWhenCtxEnds(t *testing.T) {
	t.Parallel()
	r, s := newRedis(t, reminders.WithShards(1))
	ctx := bg(t)
	var rs []reminders.Reminder
	for i := 0; i < 64; i++ {
		rs = append(rs, reminders.Reminder{ID: fmt.Sprint("r", i), Kind: "k", DueAt: time.Now().Add(-time.Second)})
	}
	require.NoError(t, s.ScheduleMany(ctx, rs))

	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelled atomic.Bool
	var afterCancel atomic.Int64
	c := r.NewClient(t)
	c.AddHook(claimSpy(
		func() {
			if cancelled.Load() {
				afterCancel.Add(1)
			}
		},
		func() { cancelled.Store(true); cancel() },
	))
	w := newOn(t, c, r.Prefix, reminders.WithShards(1), reminders.WithConcurrency(64))
	var got deliveries
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx, record(&got)) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	assert.Zero(t, afterCancel.Load(), "claim script calls started after Run's context ended")
	assert.Equal(t, 32, got.len(), "the first claim's reminders were handled")
}

// TestPurgeDeadSubMillisecond: PurgeDead "deletes for good every dead
// reminder that died before diedBefore, by DeadReminder.DiedAt". A
// reminder whose DiedAt is strictly before diedBefore, in the same
// millisecond, is left: diedBefore is truncated to its millisecond and
// then compared exclusively.
func TestPurgeDeadSubMillisecond(t *testing.T) {
	t.Parallel()
	_, s := newRedis(t, reminders.WithMaxRetries(0))
	ctx := bg(t)
	deadLetters(t, s, "x")
	list, err := s.Dead(ctx, 10)
	require.NoError(t, err)
	require.Len(t, list, 1)
	cut := list[0].DiedAt.Add(500 * time.Microsecond)
	require.True(t, list[0].DiedAt.Before(cut))
	n, err := s.PurgeDead(ctx, cut)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "a reminder that died at %s died before %s",
		list[0].DiedAt.Format(time.RFC3339Nano), cut.Format(time.RFC3339Nano))
}

// TestScheduleManyPartialFailureEvents: WithObserver promises "an
// Event for every state change", and EventScheduled is sent "once per
// reminder" that ScheduleMany stored. When one shard's script fails,
// ScheduleMany returns ErrUnavailable but the other shards' reminders are
// stored (as documented) -- and no EventScheduled is sent for them, so
// the scheduled counter misses reminders that are later delivered.
func TestScheduleManyPartialFailureEvents(t *testing.T) {
	t.Parallel()
	var scheduled sync.Map
	obs := reminders.ObserverFunc(func(e reminders.Event) {
		if e.Type == reminders.EventScheduled {
			scheduled.Store(e.ID, true)
		}
	})
	r, s := newRedis(t, reminders.WithShards(2), reminders.WithObserver(obs))
	ctx := bg(t)
	// Break shard 1 before anything is written there: its rec hash is a
	// list, so its schedule script fails at its first command.
	require.NoError(t, r.Client.RPush(ctx, "{"+r.Prefix+":1}:rec", "x").Err())
	var rs []reminders.Reminder
	for i := 0; i < 20; i++ {
		rs = append(rs, reminders.Reminder{ID: fmt.Sprint("r", i), Kind: "k", DueAt: time.Now().Add(time.Hour)})
	}
	err := s.ScheduleMany(ctx, rs)
	require.ErrorIs(t, err, reminders.ErrUnavailable)
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	require.Positive(t, st.Shards[0].Pending, "shard 0's reminders were stored")
	stored := 0
	for _, rm := range rs {
		if info, err := s.Get(ctx, rm.ID); err == nil && info.State == reminders.StatePending {
			stored++
			_, ok := scheduled.Load(rm.ID)
			assert.True(t, ok, "%q was stored but no EventScheduled was sent", rm.ID)
		}
	}
	assert.Equal(t, int(st.Shards[0].Pending), stored)
}

// TestCorruptEventFields: Event's doc says Kind is "empty on
// EventDead for a stored record that cannot be decoded" and Attempt is
// "0 for a stored record that cannot be decoded". The worker fills both
// from a partial parse of the corrupt record instead.
func TestCorruptEventFields(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	events := map[string]reminders.Event{}
	obs := reminders.ObserverFunc(func(e reminders.Event) {
		if e.Type == reminders.EventDead {
			mu.Lock()
			events[e.ID] = e
			mu.Unlock()
		}
	})
	r, s := newRedis(t, reminders.WithShards(1), reminders.WithObserver(obs))
	ctx := bg(t)
	tag := "{" + r.Prefix + ":0}:"
	past := time.Now().Add(-time.Second).UnixMilli()
	bad := map[string]string{
		// The scripts' parse refuses it (no newline): buried by claim.lua.
		"no-newline": fmt.Sprintf("5,3,%d,somekind", past),
		// The scripts' parse takes it, parseRecord refuses the Kind:
		// buried by the worker (corrupt()).
		"ctrl-kind": fmt.Sprintf("5,2,%d,bad\x01kind\npayload", past),
	}
	for id, rec := range bad {
		require.NoError(t, r.Client.HSet(ctx, tag+"rec", id, rec).Err())
		require.NoError(t, r.Client.ZAdd(ctx, tag+"due", redis.Z{Score: float64(past), Member: id}).Err())
	}
	runWorker(t, s, reminders.HandlerFunc(func(context.Context, reminders.Delivery) error { return nil }))
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) == len(bad)
	}, 10*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for id, e := range events {
		assert.True(t, errors.Is(e.Err, e.Err) && e.Err != nil && e.Err.Error() == "corrupt", "%s: %v", id, e.Err)
		assert.Empty(t, e.Kind, "%s: Kind of a corrupt record's EventDead", id)
		assert.Zero(t, e.Attempt, "%s: Attempt of a corrupt record's EventDead", id)
	}
}

// shardOf mirrors keys.go's shardOf (FNV-1a 64 modulo n), part of the
// storage format.
// idOnShard returns an ID with prefix that lives on shard sh of n.
func idOnShard(prefix string, sh, n int) string {
	for i := 0; ; i++ {
		id := fmt.Sprint(prefix, i)
		if reminders.ShardOf(id, n) == sh {
			return id
		}
	}
}

// slowMarks is a TickStore whose Marks takes a while (by the fake clock):
// a store across a network, or one retrying.
type slowMarks struct {
	*reminders.MemoryTickStore
	clock *clockwork.FakeClock
	delay time.Duration
}

func (s *slowMarks) Marks(ctx context.Context, name string) (time.Time, time.Time, error) {
	s.clock.Advance(s.delay)
	return s.MemoryTickStore.Marks(ctx, name)
}

// TestPeriodicTickDuringStart: a tick that falls while Start runs
// (its catch-up reads the tick store, which takes time) is neither caught
// up (catch-up looks at the latest tick before Start's "now") nor fired
// by gocron (its first run is the first tick after gocron starts): the
// reminder of that tick is lost, in a single instance with no downtime.
// Periodic's doc: "at each tick of a registered schedule it stores one
// reminder".
func TestPeriodicTickDuringStart(t *testing.T) {
	start := time.Date(2025, 5, 1, 10, 0, 59, 900_000_000, time.UTC)
	h := newTickHarness(t, start)
	store := &slowMarks{MemoryTickStore: h.store, clock: h.clock, delay: 200 * time.Millisecond}
	// The schedule ran before (marks set), as in any restart.
	prev := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	_, _ = h.store.Claim(ctxT(t), "report", prev)
	require.NoError(t, h.store.Done(ctxT(t), "report", prev))

	p := h.periodic(t, reminders.WithTickStore(store))
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("report.send")))
	require.NoError(t, p.Start(ctxT(t)))
	require.True(t, h.clock.Now().After(prev.Add(time.Minute)), "the 10:01 tick passed during Start")

	h.advanceTo(t, 1, time.Date(2025, 5, 1, 10, 2, 0, 0, time.UTC))
	var ids []string
	for len(ids) < 2 {
		select {
		case d := <-h.got:
			ids = append(ids, d.ID)
			continue
		case <-time.After(500 * time.Millisecond):
		}
		break
	}
	assert.Contains(t, ids, "report@2025-05-01T10:01Z", "stored: %v", ids)
}
