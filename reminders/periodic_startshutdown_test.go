package reminders_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
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

// shutdownPastDeadline checks that a Shutdown whose context ends while
// Start is stuck returns then, with ErrUnavailable and the context's error.
func shutdownPastDeadline(t *testing.T, p *reminders.Periodic) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := p.Shutdown(ctx)
	require.ErrorIs(t, err, reminders.ErrUnavailable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
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

	shutdownPastDeadline(t, p)
	close(store.release)
	startReturned(t, started)
	h.clock.Advance(3 * time.Minute)
	h.none(t, 0)
	require.NoError(t, p.Shutdown(ctxT(t)), "stopped already")
}

// hangingClaim is a TickStore whose Claim of tick hangs, as a hung Redis
// would, until its context ends (if honour) or release is closed. Its
// first Marks steps the clock a minute (a tick falls while Start runs, for
// bridge to take up) when step is set.
type hangingClaim struct {
	*reminders.MemoryTickStore
	clock   interface{ Advance(time.Duration) }
	step    bool
	tick    time.Time
	honour  bool
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (s *hangingClaim) Marks(ctx context.Context, name string) (time.Time, time.Time, error) {
	if s.step {
		s.once.Do(func() { s.clock.Advance(time.Minute) })
	}
	return s.MemoryTickStore.Marks(ctx, name)
}

func (s *hangingClaim) Claim(ctx context.Context, name string, tick time.Time) (bool, error) {
	if tick.Equal(s.tick) {
		close(s.entered)
		done := ctx.Done()
		if !s.honour {
			done = nil
		}
		select {
		case <-done:
			return false, ctx.Err()
		case <-s.release:
		}
	}
	return s.MemoryTickStore.Claim(ctx, name, tick)
}

// bridgeHang sets up a Periodic whose Start, having started gocron, hangs
// in bridge's claim of the tick that fell meanwhile (10:01).
func bridgeHang(t *testing.T, honour bool) (*tickHarness, *reminders.Periodic, *hangingClaim, <-chan error) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC))
	at := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	_, _ = h.store.Claim(context.Background(), "report", at)
	require.NoError(t, h.store.Done(context.Background(), "report", at))
	store := &hangingClaim{MemoryTickStore: h.store, clock: h.clock, step: true, honour: honour,
		tick: at.Add(time.Minute), entered: make(chan struct{}), release: make(chan struct{})}
	p := h.periodic(t, reminders.WithTickStore(store))
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	started := make(chan error, 1)
	go func() { started <- p.Start(context.Background()) }()
	select {
	case <-store.entered:
	case <-time.After(10 * time.Second):
		require.FailNow(t, "Start did not claim the tick that fell meanwhile")
	}
	return h, p, store, started
}

// A Shutdown while Start hangs in the claim of a tick that fell during it
// (gocron started already) cancels that claim and stops gocron, within
// its context.
func TestPeriodicShutdownDuringBridge(t *testing.T) {
	h, p, _, started := bridgeHang(t, true)
	require.NoError(t, p.Shutdown(ctxT(t)))
	startReturned(t, started)
	h.clock.Advance(3 * time.Minute)
	h.none(t, 0)
}

// So it does when the claim ignores its context: Shutdown returns when its
// own context ends, and gocron is stopped once Start is done.
func TestPeriodicShutdownDuringStuckBridgeKeepsItsDeadline(t *testing.T) {
	h, p, store, started := bridgeHang(t, false)
	shutdownPastDeadline(t, p)
	close(store.release)
	startReturned(t, started)
	h.clock.Advance(3 * time.Minute)
	h.none(t, 0)
}

// A Shutdown while Start stores a missed tick whose claim it won lets the
// store finish (within Shutdown's context) and the tick be marked done, as
// a firing's: cancelled, it would be claimed but not done, and every peer
// would store it again.
func TestPeriodicShutdownLetsCatchUpStoreItsWonTick(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC))
	before := time.Date(2025, 5, 1, 9, 59, 0, 0, time.UTC)
	_, _ = h.store.Claim(context.Background(), "report", before)
	require.NoError(t, h.store.Done(context.Background(), "report", before))
	sched := &blockingScheduler{Scheduler: h.sched, entered: make(chan struct{}, 1), release: make(chan struct{}), ended: make(chan bool, 1)}
	p := h.periodicOn(t, sched)
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	started := make(chan error, 1)
	go func() { started <- p.Start(context.Background()) }()
	select {
	case <-sched.entered:
	case <-time.After(10 * time.Second):
		require.FailNow(t, "Start did not store the missed tick")
	}

	shutdownWaitsForStore(t, p, sched)
	startReturned(t, started)
	assert.Equal(t, "report@2025-05-01T10:00Z", h.next(t).ID)
	claimed, done, err := h.store.Marks(context.Background(), "report")
	require.NoError(t, err)
	assert.Equal(t, claimed, done, "the won tick is marked done")
}

// A catch-up ended by Shutdown claims no further ticks: job b's missed
// tick is left to the next Start, not claimed and dropped.
func TestPeriodicShutdownStopsCatchUpBeforeLaterJobs(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC))
	before := time.Date(2025, 5, 1, 9, 59, 0, 0, time.UTC)
	_, _ = h.store.Claim(context.Background(), "b", before)
	require.NoError(t, h.store.Done(context.Background(), "b", before))
	store := newStuckMarks(h, true)
	p := h.periodic(t, reminders.WithTickStore(store))
	require.NoError(t, p.Register("a", gocron.DurationJob(time.Minute), minuteJob("k")))
	require.NoError(t, p.Register("b", gocron.DurationJob(time.Minute), minuteJob("k")))
	started := startStuck(t, p, store)
	require.NoError(t, p.Shutdown(ctxT(t)))
	startReturned(t, started)
	claimed, done, err := h.store.Marks(context.Background(), "b")
	require.NoError(t, err)
	assert.Equal(t, before, claimed, "b's missed tick was not claimed")
	assert.Equal(t, before, done)

	require.NoError(t, p.Start(ctxT(t)))
	assert.Equal(t, "b@2025-05-01T10:00Z", h.next(t).ID, "the next Start catches it up")
}

// stuckTwice is a TickStore whose first Marks hangs until its context ends
// and whose second hangs, ignoring its context, until release is closed.
type stuckTwice struct {
	*reminders.MemoryTickStore
	mu      sync.Mutex
	n       int
	first   chan struct{}
	second  chan struct{}
	release chan struct{}
}

func (s *stuckTwice) Marks(ctx context.Context, name string) (time.Time, time.Time, error) {
	s.mu.Lock()
	s.n++
	n := s.n
	s.mu.Unlock()
	switch n {
	case 1:
		close(s.first)
		<-ctx.Done()
		return time.Time{}, time.Time{}, ctx.Err()
	case 2:
		close(s.second)
		<-s.release
	}
	return s.MemoryTickStore.Marks(ctx, name)
}

// A Start called while another is under way waits for it: within its own
// context, and, when a Shutdown ends the first, it starts anew. The
// Shutdown waits for neither Start's catch-up to be over.
func TestPeriodicStartWaitsForAStartUnderWay(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC))
	store := &stuckTwice{MemoryTickStore: h.store,
		first: make(chan struct{}), second: make(chan struct{}), release: make(chan struct{})}
	p := h.periodic(t, reminders.WithTickStore(store))
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	first := make(chan error, 1)
	go func() { first <- p.Start(context.Background()) }()
	<-store.first

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := p.Start(ctx)
	require.ErrorIs(t, err, reminders.ErrUnavailable, "its context ended while the first Start ran")
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	second := make(chan error, 1)
	go func() { second <- p.Start(context.Background()) }()
	require.NoError(t, p.Shutdown(ctxT(t)), "ends the first Start, not waiting for the second")
	startReturned(t, first)
	select {
	case <-store.second:
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the waiting Start did not start anew")
	}
	close(store.release)
	startReturned(t, second)
	h.advanceTo(t, 1, time.Date(2025, 5, 1, 10, 1, 0, 0, time.UTC))
	assert.Equal(t, "report@2025-05-01T10:01Z", h.next(t).ID, "the second Start runs the schedules")
}

// Start, Shutdown (with deadlines down to zero) and Register race from
// several goroutines while the clock runs: no data race, no goroutine
// left behind, no tick stored twice, and the Periodic still starts and
// fires afterwards.
func TestPeriodicStartShutdownRegisterRace(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC))
	p := h.periodic(t, reminders.WithTickStore(laggingMarks{h.store}))
	require.NoError(t, p.Register("a", gocron.DurationJob(time.Minute), minuteJob("k")))
	var mu sync.Mutex
	seen := map[string]int{}
	collect := func(d reminders.Delivery) { mu.Lock(); seen[d.ID]++; mu.Unlock() }
	drained := make(chan struct{})
	stopDrain := make(chan struct{})
	go func() { // the harness's channel would fill up and block the firings
		defer close(drained)
		for {
			select {
			case d := <-h.got:
				collect(d)
			case <-stopDrain:
				return
			}
		}
	}()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var registered atomic.Int64
	registered.Add(1)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				switch (g + i) % 4 {
				case 0, 1:
					_ = p.Start(context.Background())
				case 2:
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%3)*time.Millisecond)
					_ = p.Shutdown(ctx)
					cancel()
				case 3:
					if p.Register(fmt.Sprintf("x%d-%d", g, i), gocron.DurationJob(time.Minute), minuteJob("k")) == nil {
						registered.Add(1)
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				h.clock.Advance(20 * time.Second)
			}
		}
	}()
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	require.NoError(t, p.Shutdown(ctxT(t)))
	close(stopDrain)
	<-drained
	for len(h.got) > 0 {
		collect(<-h.got)
	}
	require.NotEmpty(t, seen, "some ticks fired")
	for id, n := range seen {
		assert.Equal(t, 1, n, "%s stored %d times", id, n)
	}

	// A tick missed while shut down is caught up at Start, and the
	// schedules fire on: a stores its missed tick and its next one, each
	// once. next fails the test if one of them does not come in its wait.
	h.clock.Advance(time.Minute)
	missed := h.clock.Now().Truncate(time.Minute)
	next := missed.Add(time.Minute)
	require.NoError(t, p.Start(ctxT(t)))
	h.advanceTo(t, int(registered.Load()), next)
	want := map[string]bool{"a@" + missed.Format("2006-01-02T15:04Z"): true, "a@" + next.Format("2006-01-02T15:04Z"): true}
	for len(want) > 0 {
		d := h.next(t)
		collect(d)
		require.Equal(t, 1, seen[d.ID], "%s stored twice", d.ID)
		delete(want, d.ID)
	}
}

// laggingMarks reads the marks after a pause of up to 2 ms, or until its
// context ends, as a store across a network would.
type laggingMarks struct{ *reminders.MemoryTickStore }

func (s laggingMarks) Marks(ctx context.Context, name string) (time.Time, time.Time, error) {
	select {
	case <-ctx.Done():
		return time.Time{}, time.Time{}, ctx.Err()
	case <-time.After(time.Duration(rand.IntN(3)) * time.Millisecond):
	}
	return s.MemoryTickStore.Marks(ctx, name)
}

// ctxStore is a TickStore that fails, as a RedisTickStore does, once its
// context has ended.
type ctxStore struct{ *reminders.MemoryTickStore }

func (s ctxStore) Marks(ctx context.Context, name string) (time.Time, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, time.Time{}, err
	}
	return s.MemoryTickStore.Marks(ctx, name)
}

// A Start whose context has ended goes through every job all the same:
// each catch-up fails, and is retried after Start, on the run's context.
func TestPeriodicStartWithEndedContextRetriesEveryCatchUp(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC))
	before := time.Date(2025, 5, 1, 9, 59, 0, 0, time.UTC)
	for _, name := range []string{"a", "b"} {
		_, _ = h.store.Claim(context.Background(), name, before)
		require.NoError(t, h.store.Done(context.Background(), name, before))
	}
	p := h.periodic(t, reminders.WithTickStore(ctxStore{h.store}))
	require.NoError(t, p.Register("a", gocron.DurationJob(time.Minute), minuteJob("k")))
	require.NoError(t, p.Register("b", gocron.DurationJob(time.Minute), minuteJob("k")))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, p.Start(ctx))

	h.settle(t, 4) // two gocron timers, two retries waiting out their backoff
	h.clock.Advance(time.Second)
	got := map[string]bool{h.next(t).ID: true, h.next(t).ID: true}
	assert.Equal(t, map[string]bool{"a@2025-05-01T10:00Z": true, "b@2025-05-01T10:00Z": true}, got)
}

// A second Shutdown, concurrent with one that waits for a won tick's
// store, waits for that store too, within its own context.
func TestPeriodicConcurrentShutdownsBothWait(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC))
	sched := &blockingScheduler{Scheduler: h.sched, entered: make(chan struct{}, 1), release: make(chan struct{}), ended: make(chan bool, 1)}
	p := h.periodicOn(t, sched)
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	require.NoError(t, p.Start(ctxT(t)))
	h.advanceTo(t, 1, time.Date(2025, 5, 1, 10, 1, 0, 0, time.UTC))
	<-sched.entered

	first := shutdownWaiting(t, p) // it has taken the run
	shutdownPastDeadline(t, p)     // the store is still held: a second call waits too
	second := shutdownWaiting(t, p)
	close(sched.release)
	assert.False(t, <-sched.ended, "the store's context was not cancelled")
	require.NoError(t, <-first)
	require.NoError(t, <-second)
	assert.Equal(t, "report@2025-05-01T10:01Z", h.next(t).ID)
}

// A firing that won its tick and waits to retry its store when Shutdown
// comes retries at once, and the tick is stored and marked done.
func TestPeriodicShutdownRetriesAWonTickAtOnce(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC))
	p := h.periodicOn(t, &failingFor{Scheduler: h.sched, n: 1})
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	require.NoError(t, p.Start(ctxT(t)))
	h.advanceTo(t, 1, time.Date(2025, 5, 1, 10, 1, 0, 0, time.UTC))
	h.settle(t, 2) // gocron's timer, and the retry's backoff after the failure
	require.NoError(t, p.Shutdown(ctxT(t)))
	assert.Equal(t, "report@2025-05-01T10:01Z", h.next(t).ID)
	claimed, done, err := h.store.Marks(context.Background(), "report")
	require.NoError(t, err)
	assert.Equal(t, claimed, done, "marked done")
}

// failingFor fails Schedule with ErrUnavailable until n calls have failed.
type failingFor struct {
	reminders.Scheduler
	mu    sync.Mutex
	n     int
	calls int
}

func (s *failingFor) Schedule(ctx context.Context, r reminders.Reminder) error {
	s.mu.Lock()
	s.calls++
	fail := s.calls <= s.n
	s.mu.Unlock()
	if fail {
		return fmt.Errorf("%w: outage", reminders.ErrUnavailable)
	}
	return s.Scheduler.Schedule(ctx, r)
}

// A firing that won its tick keeps retrying its store after Shutdown, with
// backoff, for as long as Shutdown's context allows, and Shutdown waits
// for it: the tick is stored and marked done in the end.
func TestPeriodicShutdownWaitsForAWonTicksRetries(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC))
	s := &failingFor{Scheduler: h.sched, n: 4}
	p := h.periodicOn(t, s)
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Hour), func(time.Time) reminders.Reminder {
		return reminders.Reminder{Kind: "k"}
	}))
	require.NoError(t, p.Start(ctxT(t)))
	h.advanceTo(t, 1, time.Date(2025, 5, 1, 11, 0, 0, 0, time.UTC))
	h.settle(t, 2) // gocron's timer, and the firing's first backoff

	shut := make(chan error, 1)
	go func() { shut <- p.Shutdown(ctxT(t)) }()
	for {
		select {
		case err := <-shut:
			require.NoError(t, err)
			assert.Equal(t, "report@2025-05-01T11:00Z", h.next(t).ID)
			claimed, done, err := h.store.Marks(context.Background(), "report")
			require.NoError(t, err)
			assert.Equal(t, claimed, done, "marked done")
			return
		case <-time.After(5 * time.Millisecond):
			h.clock.Advance(time.Second) // the backoff runs on the clock
		}
	}
}

// lateSink is a slog handler, slow and one record at a time, that keeps
// the records it gets once closed.
type lateSink struct {
	mu     sync.Mutex
	closed atomic.Bool
	late   []string
}

func (s *lateSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *lateSink) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *lateSink) WithGroup(string) slog.Handler            { return s }

func (s *lateSink) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		s.late = append(s.late, r.Message)
	}
	time.Sleep(time.Millisecond)
	return nil
}

// No record reaches the logger after Shutdown has returned, although
// gocron logs while it winds down: the application may close its sink.
func TestPeriodicLogsNothingAfterShutdown(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC))
	sink := &lateSink{}
	p := h.periodic(t, reminders.WithPeriodicLogger(slog.New(sink)))
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	require.NoError(t, p.Start(ctxT(t)))
	require.NoError(t, p.Shutdown(ctxT(t)))
	sink.closed.Store(true)
	time.Sleep(50 * time.Millisecond) // gocron's goroutines wind down
	sink.mu.Lock()
	defer sink.mu.Unlock()
	assert.Empty(t, sink.late)
}
