package reminders_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// tickHarness drives Periodics with a fake clock: gocron's timers fire
// only when the test advances it. Reminders go to an eager scheduler, so
// each one is delivered inside the firing that stores it.
type tickHarness struct {
	clock *clockwork.FakeClock
	store *reminders.MemoryTickStore
	sched reminders.Scheduler
	got   chan reminders.Delivery
}

func newTickHarness(t *testing.T, start time.Time) *tickHarness {
	t.Helper()
	h := &tickHarness{
		clock: clockwork.NewFakeClockAt(start),
		store: reminders.NewMemoryTickStore(),
		got:   make(chan reminders.Delivery, 1000),
	}
	s, err := reminders.NewEagerScheduler(reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
		h.got <- d
		return nil
	}))
	require.NoError(t, err)
	h.sched = s
	return h
}

// periodic returns a Periodic on the harness's clock and store (options
// appended), shut down when the test ends.
func (h *tickHarness) periodic(t *testing.T, opts ...reminders.PeriodicOption) *reminders.Periodic {
	t.Helper()
	return h.periodicOn(t, h.sched, opts...)
}

func (h *tickHarness) periodicOn(t *testing.T, s reminders.Scheduler, opts ...reminders.PeriodicOption) *reminders.Periodic {
	t.Helper()
	all := append([]reminders.PeriodicOption{reminders.WithPeriodicClock(h.clock), reminders.WithTickStore(h.store)}, opts...)
	p, err := reminders.NewPeriodic(s, all...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, p.Shutdown(ctx))
	})
	return p
}

// settle waits until waiters timers wait on the clock (gocron has re-armed
// every job's timer; sleepers are parked), so that the next Advance finds
// them.
func (h *tickHarness) settle(t *testing.T, waiters int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, h.clock.BlockUntilContext(ctx, waiters), "waiting for %d clock waiters", waiters)
}

// advanceTo settles, then moves the clock to at.
func (h *tickHarness) advanceTo(t *testing.T, waiters int, at time.Time) {
	t.Helper()
	h.settle(t, waiters)
	require.False(t, at.Before(h.clock.Now()), "advanceTo %s: the clock is at %s", at, h.clock.Now())
	h.clock.Advance(at.Sub(h.clock.Now()))
}

// next returns the next delivery (bounded wait).
func (h *tickHarness) next(t *testing.T) reminders.Delivery {
	t.Helper()
	select {
	case d := <-h.got:
		return d
	case <-time.After(10 * time.Second):
		require.FailNow(t, "no reminder was stored")
		return reminders.Delivery{}
	}
}

// none checks that nothing is delivered while the fired jobs run to the
// end: the waiters are re-armed first, then a short real-time window
// covers a firing still in flight.
func (h *tickHarness) none(t *testing.T, waiters int) {
	t.Helper()
	h.settle(t, waiters)
	select {
	case d := <-h.got:
		require.FailNow(t, "unexpected reminder", "%s at clock %s", d.ID, h.clock.Now())
	case <-time.After(50 * time.Millisecond):
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// shutdownDuringBuild registers name with a build that blocks until
// released, starts p, calls reach to get a firing or check into that
// build, and checks that a Shutdown whose context ends first returns an
// error wrapping ErrUnavailable and the context's error, that the build
// then ends on its own (its context cancelled: it stores nothing), and
// that p is stopped.
func shutdownDuringBuild(t *testing.T, p *reminders.Periodic, name string, reach func()) {
	t.Helper()
	entered, release, returned := make(chan struct{}), make(chan struct{}), make(chan struct{})
	require.NoError(t, p.Register(name, gocron.DurationJob(time.Minute), func(tick time.Time) reminders.Reminder {
		close(entered)
		<-release
		defer close(returned)
		return reminders.Reminder{Kind: "k"}
	}))
	require.NoError(t, p.Start(ctxT(t)))
	reach()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		require.FailNow(t, "no firing or check reached the build")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := p.Shutdown(ctx)
	require.ErrorIs(t, err, reminders.ErrUnavailable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "Periodic.Shutdown")

	close(release)
	<-returned
	assert.NoError(t, p.Shutdown(ctxT(t)), "stopped already")
}
