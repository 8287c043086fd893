package reminders_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// A claimer that dies between claiming a tick and storing it: of four
// peers that all lost the claim and wake together after the grace period,
// exactly one takes the tick over and stores it (before, all four did,
// and the tick was delivered four times); the others see it done after
// one more grace period.
func TestPeriodicPeersTakeOverDeadClaimerOnce(t *testing.T) {
	start := time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC)
	h := newTickHarness(t, start)
	sched := &countingScheduler{Scheduler: h.sched, n: map[string]int{}}
	// The peers all read the marks before any takes over (left to chance,
	// one that reads after the store just returns).
	store := &armedRendezvous{marksRendezvous: marksRendezvous{MemoryTickStore: h.store, n: 4, all: make(chan struct{})}}
	for range 4 {
		p := h.periodicOn(t, sched, reminders.WithTickStore(store))
		require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
		require.NoError(t, p.Start(ctxT(t)))
	}
	tick := time.Date(2025, 5, 1, 10, 1, 0, 0, time.UTC)
	claimAndDie(t, h, tick)

	h.advanceTo(t, 4, tick)
	h.none(t, 8) // four re-armed timers, four grace sleeps
	store.armed.Store(true)
	h.advanceTo(t, 8, tick.Add(15*time.Second))
	assert.Equal(t, "report@2025-05-01T10:01Z", h.next(t).ID)
	waitDone(t, h, tick)
	// The three that lost the takeover look again one grace period on.
	h.advanceTo(t, 7, tick.Add(30*time.Second))
	h.none(t, 4)
	assert.Equal(t, 1, sched.count("report@2025-05-01T10:01Z"))
}

// claimAndDie moves the "report" job's claimed mark to each of marks in
// turn, as instances that claim (or take over) a tick and die before
// storing it.
func claimAndDie(t *testing.T, h *tickHarness, marks ...time.Time) {
	t.Helper()
	for _, mark := range marks {
		won, err := h.store.Claim(ctxT(t), "report", mark)
		require.NoError(t, err)
		require.True(t, won, "claim %s", mark)
	}
}

// waitDone waits until the marks say tick is done: the store marks it once
// Schedule has returned, just after the harness saw the reminder.
func waitDone(t *testing.T, h *tickHarness, tick time.Time) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, done, err := h.store.Marks(ctxT(t), "report")
		return err == nil && tick.Equal(done)
	}, 5*time.Second, time.Millisecond, "the tick is marked done")
}

// The peer that took a tick over dies too, before storing it: the others
// see its mark (a millisecond past the tick) hold still for a grace period
// and take the tick over from it, and one of them stores it. A Start in
// that period catches the tick up the same way: the takeover's mark is
// still the tick's, not a later one's.
func TestPeriodicTakeOverOfATakeOver(t *testing.T) {
	for _, viaStart := range []bool{false, true} {
		name := map[bool]string{false: "firing", true: "start"}[viaStart]
		t.Run(name, func(t *testing.T) {
			tick := time.Date(2025, 5, 1, 10, 1, 0, 0, time.UTC)
			start := tick.Add(-30 * time.Second)
			if viaStart {
				start = tick.Add(5 * time.Second)
			}
			h := newTickHarness(t, start)
			sched := &countingScheduler{Scheduler: h.sched, n: map[string]int{}}
			ctx := ctxT(t)
			_, _ = h.store.Claim(ctx, "report", tick.Add(-time.Minute))
			require.NoError(t, h.store.Done(ctx, "report", tick.Add(-time.Minute))) // ran until 10:00
			// A claimer and then a peer that took over both died.
			claimAndDie(t, h, tick, tick.Add(time.Millisecond))
			for range 2 {
				p := h.periodicOn(t, sched)
				require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
				require.NoError(t, p.Start(ctx))
			}
			if !viaStart {
				h.advanceTo(t, 2, tick)
			}
			// Both wait a grace period, find the takeover's mark, wait
			// another: then one of them takes it over.
			h.none(t, 4) // two timers, two grace sleeps
			h.advanceTo(t, 4, h.clock.Now().Add(15*time.Second))
			h.none(t, 4)
			h.advanceTo(t, 4, h.clock.Now().Add(15*time.Second))
			assert.Equal(t, "report@2025-05-01T10:01Z", h.next(t).ID)
			waitDone(t, h, tick) // before the clock moves on: a grace period without it is a dead taker
			// The other found it done already, or looks again a grace
			// period on and finds it done then.
			h.advanceTo(t, 2, h.clock.Now().Add(15*time.Second))
			h.none(t, 2)
			assert.Equal(t, 1, sched.count("report@2025-05-01T10:01Z"))
		})
	}
}

// armedRendezvous is a marksRendezvous once armed; before, Marks reads
// through.
type armedRendezvous struct {
	marksRendezvous
	armed atomic.Bool
}

func (a *armedRendezvous) Marks(ctx context.Context, name string) (time.Time, time.Time, error) {
	if !a.armed.Load() {
		return a.MemoryTickStore.Marks(ctx, name)
	}
	return a.marksRendezvous.Marks(ctx, name)
}

// blockingScheduler holds its first Schedule call until released, and
// reports whether that call's context had ended when it was released.
// entered and ended need a buffer of 1.
type blockingScheduler struct {
	reminders.Scheduler
	first            atomic.Bool
	entered, release chan struct{}
	ended            chan bool
}

func (b *blockingScheduler) Schedule(ctx context.Context, r reminders.Reminder) error {
	if b.first.CompareAndSwap(false, true) {
		b.entered <- struct{}{}
		<-b.release
		b.ended <- ctx.Err() != nil
	}
	return b.Scheduler.Schedule(ctx, r)
}

// shutdownWaitsForStore shuts p down while sched holds a won tick's
// store, and checks that Shutdown waits for it, without cancelling it,
// and returns nil once it is released.
func shutdownWaitsForStore(t *testing.T, p *reminders.Periodic, sched *blockingScheduler) {
	t.Helper()
	stopped := shutdownWaiting(t, p)
	close(sched.release)
	assert.False(t, <-sched.ended, "the store's context was not cancelled by Shutdown")
	require.NoError(t, <-stopped)
}

// shutdownWaiting calls p.Shutdown on a goroutine, checks that it is still
// waiting 50 ms later, and returns the channel that gets its result.
func shutdownWaiting(t *testing.T, p *reminders.Periodic) <-chan error {
	t.Helper()
	stopped := make(chan error, 1)
	go func() { stopped <- p.Shutdown(ctxT(t)) }()
	select {
	case err := <-stopped:
		require.FailNow(t, "Shutdown returned while the won tick was being stored", "%v", err)
	case <-time.After(50 * time.Millisecond):
	}
	return stopped
}

// Shutdown while a firing that won its tick's claim is storing it: the
// store goes on (its context is not cancelled), the tick is marked done,
// and Shutdown waits for it. Cancelled, it left the tick claimed but not
// done, and every peer stored it again after its grace period.
func TestPeriodicShutdownLetsWonTickBeStored(t *testing.T) {
	start := time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC)
	h := newTickHarness(t, start)
	sched := &blockingScheduler{Scheduler: h.sched, entered: make(chan struct{}, 1), release: make(chan struct{}), ended: make(chan bool, 1)}
	p, err := reminders.NewPeriodic(sched, reminders.WithPeriodicClock(h.clock), reminders.WithTickStore(h.store))
	require.NoError(t, err)
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	require.NoError(t, p.Start(ctxT(t)))

	tick := time.Date(2025, 5, 1, 10, 1, 0, 0, time.UTC)
	h.advanceTo(t, 1, tick)
	select {
	case <-sched.entered:
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the firing did not reach Schedule")
	}
	shutdownWaitsForStore(t, p, sched)
	assert.Equal(t, "report@2025-05-01T10:01Z", h.next(t).ID)
	_, done, err := h.store.Marks(ctxT(t), "report")
	require.NoError(t, err)
	assert.Equal(t, tick, done.UTC())
}
