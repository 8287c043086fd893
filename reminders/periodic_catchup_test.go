package reminders_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// countingScheduler counts Schedule calls per reminder ID.
type countingScheduler struct {
	reminders.Scheduler
	mu sync.Mutex
	n  map[string]int
}

func (c *countingScheduler) Schedule(ctx context.Context, r reminders.Reminder) error {
	c.mu.Lock()
	c.n[r.ID]++
	c.mu.Unlock()
	return c.Scheduler.Schedule(ctx, r)
}

func (c *countingScheduler) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[id]
}

// marksRendezvous is a TickStore whose first n Marks calls wait for one
// another after reading, so that n starting instances all read the marks
// before any of them claims: the window in which all see the tick missed.
// Left to chance, the Starts hit it in about a third of runs (-race).
type marksRendezvous struct {
	*reminders.MemoryTickStore
	n       int32
	arrived atomic.Int32
	all     chan struct{}
}

func (m *marksRendezvous) Marks(ctx context.Context, name string) (time.Time, time.Time, error) {
	claimed, done, err := m.MemoryTickStore.Marks(ctx, name)
	if i := m.arrived.Add(1); i <= m.n {
		if i == m.n {
			close(m.all)
		}
		select {
		case <-m.all:
		case <-ctx.Done():
			return time.Time{}, time.Time{}, ctx.Err()
		}
	}
	return claimed, done, err
}

// Instances that start together after all were down over a tick store its
// reminder once: the claim's winner within its Start, and the others,
// whose check after the grace period finds it done, not again after its
// delivery (the eager scheduler delivers it inside Schedule).
func TestPeriodicConcurrentStartsCatchUpOnce(t *testing.T) {
	const n = 4
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 5, 30, 0, time.UTC))
	prev := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC) // ran until 10:00
	_, _ = h.store.Claim(ctxT(t), "report", prev)
	require.NoError(t, h.store.Done(ctxT(t), "report", prev))
	store := &marksRendezvous{MemoryTickStore: h.store, n: n, all: make(chan struct{})}
	sched := &countingScheduler{Scheduler: h.sched, n: map[string]int{}}

	var ps []*reminders.Periodic
	for range n {
		p := h.periodicOn(t, sched, reminders.WithTickStore(store))
		require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
		ps = append(ps, p)
	}
	ready := make(chan struct{})
	errs := make(chan error, n)
	for _, p := range ps {
		go func() {
			<-ready
			errs <- p.Start(ctxT(t))
		}()
	}
	close(ready)
	for range n {
		require.NoError(t, <-errs)
	}

	const id = "report@2025-05-01T10:05Z"
	require.Equal(t, 1, sched.count(id), "stored once when the Starts return")
	assert.Equal(t, id, h.next(t).ID)
	// n-1 losers wait out the grace period (10 s here) beside n timers.
	h.advanceTo(t, 2*n-1, h.clock.Now().Add(10*time.Second))
	h.none(t, n)
	assert.Equal(t, 1, sched.count(id), "the losers did not store it again")
}

// deadClaimer sets h's marks as left by an instance that ran the "report"
// schedule until 10:00, claimed the 10:01 tick and died before storing
// it, and returns that tick.
func deadClaimer(t *testing.T, h *tickHarness) time.Time {
	t.Helper()
	prev := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	_, _ = h.store.Claim(ctxT(t), "report", prev)
	require.NoError(t, h.store.Done(ctxT(t), "report", prev))
	tick := prev.Add(time.Minute)
	won, err := h.store.Claim(ctxT(t), "report", tick)
	require.NoError(t, err)
	require.True(t, won)
	return tick
}

// A tick claimed but not done when Start looks may be a peer's that is
// starting too: it is stored after the grace period, not at once. A
// Shutdown in between cancels that check without waiting it out.
func TestPeriodicCatchUpOfDeadClaimerAfterGrace(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 1, 10, 0, time.UTC))
	tick := deadClaimer(t, h)
	p := h.periodic(t)
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))

	require.NoError(t, p.Start(ctxT(t)))
	h.none(t, 2) // the timer, and the grace sleep (10 s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	require.NoError(t, p.Shutdown(ctx), "Shutdown waits for no grace period")
	assert.Empty(t, h.got)

	require.NoError(t, p.Start(ctxT(t)))
	h.advanceTo(t, 2, h.clock.Now().Add(10*time.Second-time.Millisecond))
	h.none(t, 2)
	h.advanceTo(t, 2, h.clock.Now().Add(time.Millisecond))
	assert.Equal(t, "report@2025-05-01T10:01Z", h.next(t).ID)
	require.Eventually(t, func() bool {
		_, done, err := h.store.Marks(ctxT(t), "report")
		return err == nil && tick.Equal(done)
	}, 5*time.Second, time.Millisecond, "the tick is marked done")
	h.none(t, 1)
}

// Shutdown waits, within its context, for a catch-up check that stores a
// dead claimer's tick, as for a firing (TestPeriodicShutdownContextEnds).
func TestPeriodicShutdownWaitsForCatchUpCheck(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 1, 10, 0, time.UTC))
	deadClaimer(t, h)
	shutdownDuringBuild(t, h.periodic(t), "report", func() {
		h.advanceTo(t, 2, h.clock.Now().Add(10*time.Second))
	})
}

// A tick whose claim Start wins, missed before Start (catch-up) or fallen
// while it ran (bridge), is retried with backoff while the scheduler is
// unavailable, as a firing's is: the claim is this instance's, so no peer
// would store it before its grace period, and nothing would after Start
// gave up on it.
func TestPeriodicStartRetriesWonTickWhileUnavailable(t *testing.T) {
	prev := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC) // ran until 10:00
	for _, tc := range []struct {
		name  string
		start time.Time
		store func(h *tickHarness) reminders.TickStore
		tick  time.Time
	}{
		{"catch-up", time.Date(2025, 5, 1, 10, 5, 30, 0, time.UTC),
			func(h *tickHarness) reminders.TickStore { return h.store }, prev.Add(5 * time.Minute)},
		{"tick during Start", time.Date(2025, 5, 1, 10, 0, 59, 900_000_000, time.UTC),
			func(h *tickHarness) reminders.TickStore {
				return &slowMarks{MemoryTickStore: h.store, clock: h.clock, delay: 200 * time.Millisecond}
			}, prev.Add(time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTickHarness(t, tc.start)
			_, _ = h.store.Claim(ctxT(t), "report", prev)
			require.NoError(t, h.store.Done(ctxT(t), "report", prev))
			fails := make(chan struct{}, 2)
			fails <- struct{}{}
			fails <- struct{}{}
			p := h.periodicOn(t, flakyScheduler{Scheduler: h.sched, fails: fails}, reminders.WithTickStore(tc.store(h)))
			require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))

			require.NoError(t, p.Start(ctxT(t)), "Start returns after the first failure")
			// The timer of the next tick, and the backoffs: 100 ms after
			// the first failure, 200 ms after the second.
			h.advanceTo(t, 2, h.clock.Now().Add(100*time.Millisecond))
			h.none(t, 2)
			h.advanceTo(t, 2, h.clock.Now().Add(200*time.Millisecond))
			assert.Equal(t, "report@"+tc.tick.Format("2006-01-02T15:04Z"), h.next(t).ID)
			assert.Empty(t, fails)
			require.Eventually(t, func() bool {
				_, done, err := h.store.Marks(ctxT(t), "report")
				return err == nil && tc.tick.Equal(done)
			}, 5*time.Second, time.Millisecond, "the tick is marked done")
			h.none(t, 1)
		})
	}
}

// marksDownFirst is a TickStore whose first n Marks calls fail with
// ErrUnavailable: a store still starting when the instance starts.
type marksDownFirst struct {
	*reminders.MemoryTickStore
	fails chan struct{}
}

func (m marksDownFirst) Marks(ctx context.Context, name string) (time.Time, time.Time, error) {
	select {
	case <-m.fails:
		return time.Time{}, time.Time{}, reminders.ErrUnavailable
	default:
		return m.MemoryTickStore.Marks(ctx, name)
	}
}

// A store that is unavailable when Start reads the marks (both restarted
// after an outage) does not cost the missed tick: the catch-up reads them
// again with backoff and stores it once they are read.
func TestPeriodicCatchUpWaitsForTheStore(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 5, 30, 0, time.UTC))
	prev := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC) // ran until 10:00
	_, _ = h.store.Claim(ctxT(t), "report", prev)
	require.NoError(t, h.store.Done(ctxT(t), "report", prev))
	fails := make(chan struct{}, 2)
	fails <- struct{}{}
	fails <- struct{}{}
	p := h.periodic(t, reminders.WithTickStore(marksDownFirst{MemoryTickStore: h.store, fails: fails}))
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))

	require.NoError(t, p.Start(ctxT(t)))
	h.none(t, 2)                                               // the timer, and the first backoff
	h.advanceTo(t, 2, h.clock.Now().Add(100*time.Millisecond)) // fails again
	h.none(t, 2)
	h.advanceTo(t, 2, h.clock.Now().Add(200*time.Millisecond)) // read
	assert.Equal(t, "report@2025-05-01T10:05Z", h.next(t).ID)
	assert.Empty(t, fails)
	h.none(t, 1)
}

// A peer fires 10:01, claims it and dies, while this instance's Start runs
// across 10:01: the claim Start loses is checked after the grace period,
// and the tick stored, as a firing's lost claim is.
func TestPeriodicBridgeLostToDeadClaimer(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 59, 900_000_000, time.UTC))
	store := &slowMarks{MemoryTickStore: h.store, clock: h.clock, delay: 200 * time.Millisecond}
	prev := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	_, _ = h.store.Claim(ctxT(t), "report", prev)
	require.NoError(t, h.store.Done(ctxT(t), "report", prev))
	won, err := h.store.Claim(ctxT(t), "report", prev.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, won)
	p := h.periodic(t, reminders.WithTickStore(store))
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	require.NoError(t, p.Start(ctxT(t)))
	require.True(t, h.clock.Now().After(prev.Add(time.Minute)), "10:01 fell during Start")

	h.advanceTo(t, 2, h.clock.Now().Add(10*time.Second)) // the timer, and the grace sleep
	assert.Equal(t, "report@2025-05-01T10:01Z", h.next(t).ID, "stored after the grace period")
	h.none(t, 1)
}

// A claim's holder retrying while the scheduler is unavailable stops once
// the marks say the tick is done (a peer whose grace period ran out took
// it over and stored it): it does not store the tick again.
func TestPeriodicWonRetryStopsOnceTickIsDone(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC))
	fails := make(chan struct{}, 1)
	fails <- struct{}{}
	sched := &countingScheduler{Scheduler: flakyScheduler{Scheduler: h.sched, fails: fails}, n: map[string]int{}}
	p := h.periodicOn(t, sched)
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	require.NoError(t, p.Start(ctxT(t)))

	tick := time.Date(2025, 5, 1, 10, 1, 0, 0, time.UTC)
	h.advanceTo(t, 1, tick) // fires, wins, fails once: backs off 100 ms
	h.settle(t, 2)
	require.NoError(t, h.store.Done(ctxT(t), "report", tick)) // the peer's store
	h.advanceTo(t, 2, tick.Add(100*time.Millisecond))
	h.none(t, 1)
	assert.Equal(t, 1, sched.count("report@2025-05-01T10:01Z"), "the failed call only")
}

// claimFailsAt is a TickStore whose first Claim of tick fails with
// ErrUnavailable (a store still flaky as it recovers).
type claimFailsAt struct {
	*reminders.MemoryTickStore
	tick   time.Time
	failed atomic.Bool
}

func (c *claimFailsAt) Claim(ctx context.Context, name string, tick time.Time) (bool, error) {
	if tick.Equal(c.tick) && c.failed.CompareAndSwap(false, true) {
		return false, reminders.ErrUnavailable
	}
	return c.MemoryTickStore.Claim(ctx, name, tick)
}

// Start wins the missed 10:00 tick at 10:00:59.95 and fails to store it
// (scheduler unavailable). It is retried until the next tick supersedes
// it: 10:01 comes before the retry's first backoff ends, so 10:00 is given
// up, not stored late (the 10:01 firing's claim fails once, so that the
// marks do not tell the retry either).
func TestPeriodicWonHandoverRetryAfterSuperseded(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 59, 950_000_000, time.UTC))
	prev := time.Date(2025, 5, 1, 9, 59, 0, 0, time.UTC) // ran until 9:59
	_, _ = h.store.Claim(ctxT(t), "report", prev)
	require.NoError(t, h.store.Done(ctxT(t), "report", prev))
	next := time.Date(2025, 5, 1, 10, 1, 0, 0, time.UTC)
	store := &claimFailsAt{MemoryTickStore: h.store, tick: next}
	fails := make(chan struct{}, 1)
	fails <- struct{}{}
	p := h.periodicOn(t, flakyScheduler{Scheduler: h.sched, fails: fails}, reminders.WithTickStore(store))
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	require.NoError(t, p.Start(ctxT(t)))
	require.Empty(t, fails, "Start's store of 10:00 failed")

	// 10:00 was given up at once: only the timer waits. 10:01 fires, its
	// claim fails, and its retry stores it after 100 ms.
	h.advanceTo(t, 1, next)
	h.advanceTo(t, 2, next.Add(100*time.Millisecond))
	assert.Equal(t, "report@2025-05-01T10:01Z", h.next(t).ID, "10:00 was superseded at 10:01")
	h.none(t, 1)
}
