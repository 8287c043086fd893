package reminders_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// stuckMarks is a TickStore whose first Marks call, Start's catch-up,
// hangs as a hung Redis would: until its context ends (if honour) or
// until release is closed.
type stuckMarks struct {
	*reminders.MemoryTickStore
	honour  bool
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func newStuckMarks(h *tickHarness, honour bool) *stuckMarks {
	return &stuckMarks{MemoryTickStore: h.store, honour: honour,
		entered: make(chan struct{}), release: make(chan struct{})}
}

func (s *stuckMarks) Marks(ctx context.Context, name string) (time.Time, time.Time, error) {
	first := false
	s.once.Do(func() { first = true; close(s.entered) })
	if first {
		done := ctx.Done()
		if !s.honour {
			done = nil
		}
		select {
		case <-done:
			return time.Time{}, time.Time{}, ctx.Err()
		case <-s.release:
		}
	}
	return s.MemoryTickStore.Marks(ctx, name)
}

// startStuck starts p on a goroutine and waits until its catch-up hangs
// in store; the returned channel gets Start's error.
func startStuck(t *testing.T, p *reminders.Periodic, store *stuckMarks) <-chan error {
	t.Helper()
	started := make(chan error, 1)
	go func() { started <- p.Start(context.Background()) }()
	select {
	case <-store.entered:
	case <-time.After(10 * time.Second):
		require.FailNow(t, "Start's catch-up did not read the marks")
	}
	return started
}

func startReturned(t *testing.T, started <-chan error) {
	t.Helper()
	select {
	case err := <-started:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		require.FailNow(t, "Start did not return")
	}
}

// A Shutdown during Start's catch-up cancels it: the catch-up's I/O ends,
// Shutdown returns without waiting for Start's own context, and the
// schedules never start; a later Start starts them.
func TestPeriodicShutdownCancelsStartsCatchUp(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC))
	store := newStuckMarks(h, true)
	p := h.periodic(t, reminders.WithTickStore(store))
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	started := startStuck(t, p, store)

	require.NoError(t, p.Shutdown(ctxT(t)))
	startReturned(t, started)
	h.clock.Advance(3 * time.Minute)
	h.none(t, 0) // no timer armed: the schedules did not start

	require.NoError(t, p.Start(ctxT(t)))
	h.advanceTo(t, 1, time.Date(2025, 5, 1, 10, 4, 0, 0, time.UTC))
	assert.Equal(t, "report@2025-05-01T10:04Z", h.next(t).ID)
}

// A Shutdown whose context ends while Start's catch-up ignores the
// cancellation returns then, with ErrUnavailable and the context's error;
// when the catch-up ends, Start does not start the schedules.
func TestPeriodicShutdownDuringStuckStartKeepsItsDeadline(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC))
	store := newStuckMarks(h, false)
	p := h.periodic(t, reminders.WithTickStore(store))
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	started := startStuck(t, p, store)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := p.Shutdown(ctx)
	require.ErrorIs(t, err, reminders.ErrUnavailable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	close(store.release)
	startReturned(t, started)
	h.clock.Advance(3 * time.Minute)
	h.none(t, 0)
	require.NoError(t, p.Shutdown(ctxT(t)), "stopped already")
}
