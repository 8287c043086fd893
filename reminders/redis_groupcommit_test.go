package reminders_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/reminders"
)

// scriptGate is a go-redis hook that records the reminder IDs (those with
// the prefix "gc-") each script call carries and, while armed, holds each
// script call until the test lets it go: a round trip in flight for as
// long as the test likes.
type scriptGate struct {
	armed atomic.Bool
	held  chan []string // a held call's IDs
	open  chan struct{} // one receive lets one held call go
	mu    sync.Mutex
	calls [][]string // every script call's IDs, in order
}

func newScriptGate() *scriptGate {
	return &scriptGate{held: make(chan []string, 16), open: make(chan struct{})}
}

func (g *scriptGate) hook() redistest.CommandHook {
	return func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
		if name := cmd.Name(); name != "evalsha" && name != "eval" {
			return next(ctx, cmd)
		}
		var ids []string
		for _, a := range cmd.Args() {
			if s, ok := a.(string); ok && strings.HasPrefix(s, "gc-") && !slices.Contains(ids, s) {
				ids = append(ids, s)
			}
		}
		g.mu.Lock()
		g.calls = append(g.calls, ids)
		g.mu.Unlock()
		if g.armed.Load() {
			g.held <- ids
			<-g.open
		}
		return next(ctx, cmd)
	}
}

// callIDs is the IDs of every script call that carried a "gc-" reminder.
func (g *scriptGate) callIDs() [][]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out [][]string
	for _, ids := range g.calls {
		if len(ids) > 0 {
			out = append(out, ids)
		}
	}
	return out
}

// newGated is a one-shard scheduler with opts on its own client with a
// scriptGate, its scripts loaded (so that a held call is the one asked
// for, not a NOSCRIPT retry). Hooks added to the client later run after
// the gate.
func newGated(t *testing.T, opts ...reminders.Option) (*reminders.RedisScheduler, *scriptGate, redis.UniversalClient) {
	t.Helper()
	r := redistest.New(t)
	c := r.NewClient(t)
	g := newScriptGate()
	c.AddHook(g.hook())
	s, err := reminders.NewRedisScheduler(c, append([]reminders.Option{reminders.WithKeyPrefix(r.Prefix)}, opts...)...)
	require.NoError(t, err)
	require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "warm", Kind: "k", DueAt: time.Now().Add(time.Hour)}))
	return s, g, c
}

// panicOn is a client hook that panics with "hook" on a command that
// carries id.
func panicOn(id string) redistest.CommandHook {
	return func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
		if slices.Contains(cmd.Args(), any(id)) {
			panic("hook")
		}
		return next(ctx, cmd)
	}
}

// scheduledEvents is an Observer that counts EventScheduled by ID.
type scheduledEvents struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *scheduledEvents) ObserveReminder(e reminders.Event) {
	if e.Type != reminders.EventScheduled {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == nil {
		h.n = map[string]int{}
	}
	h.n[e.ID]++
}

// counts is a copy of the counts so far.
func (h *scheduledEvents) counts() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.n)
}

// scheduleAsync runs Schedule of id on a goroutine and returns its outcome
// channel.
func scheduleAsync(ctx context.Context, s *reminders.RedisScheduler, id string) <-chan error {
	out := make(chan error, 1)
	go func() {
		out <- s.Schedule(ctx, reminders.Reminder{ID: id, Kind: "k", DueAt: time.Now().Add(time.Hour), Payload: []byte(id)})
	}()
	return out
}

func waitErr(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Schedule did not return")
		return nil
	}
}

func pending(t *testing.T, s *reminders.RedisScheduler, id string) bool {
	t.Helper()
	info, err := s.Get(bg(t), id)
	if err != nil {
		require.ErrorIs(t, err, reminders.ErrNotFound)
		return false
	}
	assert.Equal(t, reminders.StatePending, info.State)
	assert.Equal(t, id, string(info.Payload))
	return true
}

// TestRedisScheduleGroupCommit: Schedule calls that arrive while another's
// script call is in flight go together in the next script call, and each
// returns nil once it is stored; a queued call whose context ends returns
// ErrUnavailable at once, and nothing of it is written.
func TestRedisScheduleGroupCommit(t *testing.T) {
	t.Parallel()
	s, g, _ := newGated(t)
	a := holdLone(t, s, g)

	quit, cancel := context.WithCancel(bg(t))
	b := scheduleAsync(bg(t), s, "gc-b")
	require.Eventually(t, func() bool { return s.Waiting(0) == 1 }, 10*time.Second, time.Millisecond)
	e := scheduleAsync(quit, s, "gc-e")
	require.Eventually(t, func() bool { return s.Waiting(0) == 2 }, 10*time.Second, time.Millisecond)
	c := scheduleAsync(bg(t), s, "gc-c")
	d := scheduleAsync(bg(t), s, "gc-d")
	require.Eventually(t, func() bool { return s.Waiting(0) == 4 }, 10*time.Second, time.Millisecond)
	cancel()
	assert.ErrorIs(t, waitErr(t, e), reminders.ErrUnavailable, "left the queue while gc-a is in flight")
	assert.Equal(t, 3, s.Waiting(0))

	g.armed.Store(false)
	g.open <- struct{}{}
	for _, ch := range []<-chan error{a, b, c, d} {
		assert.NoError(t, waitErr(t, ch))
	}
	calls := g.callIDs()
	require.Len(t, calls, 2, "one script call for gc-a, one for the three queued behind it")
	assert.ElementsMatch(t, []string{"gc-b", "gc-c", "gc-d"}, calls[1])
	for _, id := range []string{"gc-a", "gc-b", "gc-c", "gc-d"} {
		assert.True(t, pending(t, s, id), id)
	}
	assert.False(t, pending(t, s, "gc-e"), "abandoned before it was sent")
}

// TestRedisScheduleGroupCommitContexts: each caller of a batch, the first
// (whose context's values the script call carries) included, returns
// ErrUnavailable as soon as its own context ends, as for a lost reply; the script call goes on
// for the others, and every reminder in it is stored (here it is). The
// observer hears of each stored reminder once, those of the callers that
// returned first too.
func TestRedisScheduleGroupCommitContexts(t *testing.T) {
	t.Parallel()
	var heard scheduledEvents
	s, g, _ := newGated(t, reminders.WithObserver(&heard))

	a := holdLone(t, s, g)
	leaderCtx, cancelLeader := context.WithCancel(bg(t))
	b := scheduleAsync(leaderCtx, s, "gc-b") // first in the queue: first in the next batch
	require.Eventually(t, func() bool { return s.Waiting(0) == 1 }, 10*time.Second, time.Millisecond)
	cc := scheduleAsync(bg(t), s, "gc-c")
	memberCtx, cancelMember := context.WithCancel(bg(t))
	d := scheduleAsync(memberCtx, s, "gc-d")
	require.Eventually(t, func() bool { return s.Waiting(0) == 3 }, 10*time.Second, time.Millisecond)

	g.open <- struct{}{} // gc-a goes; a sender sends gc-b, gc-c, gc-d, held
	require.NoError(t, waitErr(t, a))
	assert.ElementsMatch(t, []string{"gc-b", "gc-c", "gc-d"}, <-g.held)
	cancelMember()
	assert.ErrorIs(t, waitErr(t, d), reminders.ErrUnavailable, "a member returns while its call is in flight")
	cancelLeader()
	assert.ErrorIs(t, waitErr(t, b), reminders.ErrUnavailable, "so does the first")
	g.armed.Store(false)
	g.open <- struct{}{}
	assert.NoError(t, waitErr(t, cc), "not failed by the sender's context")
	for _, id := range []string{"gc-a", "gc-b", "gc-c", "gc-d"} {
		assert.True(t, pending(t, s, id), id)
	}
	s.WaitSends()
	assert.Equal(t, map[string]int{"warm": 1, "gc-a": 1, "gc-b": 1, "gc-c": 1, "gc-d": 1}, heard.counts())
}

// TestRedisScheduleRetryAfterAbandon: a caller whose context ended while
// its reminder was on its way retries with the same ID and a new due time;
// the retry waits behind the write it gave up on, so the retry's reminder
// is the one stored, not overwritten by the older write landing late.
func TestRedisScheduleRetryAfterAbandon(t *testing.T) {
	t.Parallel()
	s, g, _ := newGated(t)
	a := holdLone(t, s, g)
	quit, cancel := context.WithCancel(bg(t))
	first := scheduleAsync(quit, s, "gc-x")
	require.Eventually(t, func() bool { return s.Waiting(0) == 1 }, 10*time.Second, time.Millisecond)
	y := scheduleAsync(bg(t), s, "gc-y")
	require.Eventually(t, func() bool { return s.Waiting(0) == 2 }, 10*time.Second, time.Millisecond)
	g.open <- struct{}{} // gc-a goes; gc-x sends gc-x and gc-y, held
	require.NoError(t, waitErr(t, a))
	assert.Equal(t, []string{"gc-x", "gc-y"}, <-g.held)
	cancel()
	require.ErrorIs(t, waitErr(t, first), reminders.ErrUnavailable)

	later := time.Now().Add(2 * time.Hour).Truncate(time.Millisecond)
	retry := make(chan error, 1)
	go func() {
		retry <- s.Schedule(bg(t), reminders.Reminder{ID: "gc-x", Kind: "k", DueAt: later, Payload: []byte("gc-x")})
	}()
	require.Eventually(t, func() bool { return s.Waiting(0) == 1 }, 10*time.Second, time.Millisecond, "the retry queues")
	g.armed.Store(false)
	g.open <- struct{}{}
	require.NoError(t, waitErr(t, retry))
	require.NoError(t, waitErr(t, y))
	info, err := s.Get(bg(t), "gc-x")
	require.NoError(t, err)
	assert.True(t, later.Equal(info.DueAt), "stored %v, want the retry's %v", info.DueAt, later)
}

// TestRedisScheduleObserverReentry: an observer that schedules from its
// EventScheduled callback (a follow-up reminder) does not deadlock: it is
// called once the script call has ended, on the caller's goroutine.
func TestRedisScheduleObserverReentry(t *testing.T) {
	t.Parallel()
	var s *reminders.RedisScheduler
	followUps := make(chan error, 64)
	obs := reminders.ObserverFunc(func(e reminders.Event) {
		if e.Type == reminders.EventScheduled && !strings.HasSuffix(e.ID, "-follow") {
			followUps <- s.Schedule(context.Background(), reminders.Reminder{ID: e.ID + "-follow", Kind: "k", DueAt: time.Now().Add(time.Hour)})
		}
	})
	_, s = newRedis(t, reminders.WithObserver(obs))
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: fmt.Sprint("o-", i), Kind: "k", DueAt: time.Now().Add(time.Hour)}))
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Schedule from the observer deadlocked")
	}
	for range 16 {
		assert.NoError(t, <-followUps)
	}
	st, err := s.Stats(bg(t))
	require.NoError(t, err)
	assert.Equal(t, 32, int(st.Pending))
}

// TestRedisScheduleConcurrent: many goroutines scheduling over a shared
// set of IDs at once, on several shards: every call returns nil, every ID
// is stored once, with a payload one of its calls wrote, and the scheduler
// counts every ID pending.
func TestRedisScheduleConcurrent(t *testing.T) {
	t.Parallel()
	const goroutines, each, ids = 32, 100, 500
	_, s := newRedis(t, reminders.WithShards(3))
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprint("c-", (g*each+i*7)%ids)
				errs <- s.Schedule(bg(t), reminders.Reminder{ID: id, Kind: "k", DueAt: time.Now().Add(time.Hour),
					Payload: []byte(fmt.Sprint(id, "/", g, "/", i))})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st, err := s.Stats(bg(t))
	require.NoError(t, err)
	assert.Equal(t, int64(ids), int64(st.Pending))
	for n := range ids {
		id := fmt.Sprint("c-", n)
		info, err := s.Get(bg(t), id)
		require.NoError(t, err, id)
		assert.True(t, strings.HasPrefix(string(info.Payload), id+"/"), "%s holds %q", id, info.Payload)
	}
}

// TestRedisScheduleConcurrentUnavailable: with Redis unreachable, every
// one of many concurrent calls returns ErrUnavailable, none is stuck
// behind another's script call.
func TestRedisScheduleConcurrentUnavailable(t *testing.T) {
	t.Parallel()
	port, err := redistest.FreePort()
	require.NoError(t, err)
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprint("127.0.0.1:", port), MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	s, err := reminders.NewRedisScheduler(c)
	require.NoError(t, err)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Schedule(bg(t), reminders.Reminder{ID: fmt.Sprint("u-", i), Kind: "k", DueAt: time.Now()})
			if assert.ErrorIs(t, err, reminders.ErrUnavailable) {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(32), failed.Load())
	assert.Equal(t, 0, s.Waiting(0))
}

// TestRedisScheduleConcurrentDeadlines: many concurrent calls, a third of
// them with deadlines that end at every stage (queued, taken into a
// batch, on its way). Every call returns; each that returned nil is
// stored and was reported to the observer once; the observer hears of no
// reminder that is not stored, and of none twice. (A stored reminder may
// go unreported: a deadline that ends the script call itself loses its
// reply, and with it the news that it ran.)
func TestRedisScheduleConcurrentDeadlines(t *testing.T) {
	t.Parallel()
	const goroutines, each = 32, 60
	var heard scheduledEvents
	_, s := newRedis(t, reminders.WithShards(2), reminders.WithObserver(&heard))
	var wg sync.WaitGroup
	var okIDs sync.Map
	var failed atomic.Int64
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprint("d-", g, "-", i)
				ctx, cancel := context.WithCancel(bg(t))
				if i%3 == 0 {
					ctx, cancel = context.WithTimeout(bg(t), time.Duration(i%7)*100*time.Microsecond)
				}
				err := s.Schedule(ctx, reminders.Reminder{ID: id, Kind: "k", DueAt: time.Now().Add(time.Hour)})
				cancel()
				if err == nil {
					okIDs.Store(id, true)
				} else {
					assert.ErrorIs(t, err, reminders.ErrUnavailable)
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d of %d calls gave up", failed.Load(), goroutines*each)
	okIDs.Range(func(k, _ any) bool {
		_, err := s.Get(bg(t), k.(string))
		assert.NoError(t, err, "%s returned nil", k)
		return true
	})
	s.WaitSends() // writes whose callers gave up have landed, and been reported
	st, err := s.Stats(bg(t))
	require.NoError(t, err)
	heardOf := heard.counts()
	stored, unheard := 0, 0
	for g := range goroutines {
		for i := range each {
			id := fmt.Sprint("d-", g, "-", i)
			_, err := s.Get(bg(t), id)
			if _, ok := okIDs.Load(id); ok {
				assert.Equal(t, 1, heardOf[id], "%s returned nil", id)
			}
			if err == nil {
				stored++
				assert.LessOrEqual(t, heardOf[id], 1, "%s is stored", id)
				if heardOf[id] == 0 {
					unheard++
				}
			} else {
				require.ErrorIs(t, err, reminders.ErrNotFound)
				assert.Zero(t, heardOf[id], "%s is not stored", id)
			}
		}
	}
	t.Logf("%d stored, %d of them with their reply lost", stored, unheard)
	assert.Equal(t, stored, int(st.Pending))
}

// TestRedisSchedulePanicAlone: a panic while a lone call is on its way (a
// client hook's, here) reaches that caller, and the shard goes on: the
// call that queued behind it is stored, and so is the next.
func TestRedisSchedulePanicAlone(t *testing.T) {
	t.Parallel()
	s, g, c := newGated(t)
	c.AddHook(panicOn("gc-panic"))
	g.armed.Store(true)
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_ = s.Schedule(bg(t), reminders.Reminder{ID: "gc-panic", Kind: "k", DueAt: time.Now().Add(time.Hour)})
	}()
	<-g.held
	queued := scheduleAsync(bg(t), s, "gc-queued")
	require.Eventually(t, func() bool { return s.Waiting(0) == 1 }, 10*time.Second, time.Millisecond)
	g.armed.Store(false)
	g.open <- struct{}{}
	assert.Equal(t, "hook", <-panicked)
	require.NoError(t, waitErr(t, queued))
	require.NoError(t, waitErr(t, scheduleAsync(bg(t), s, "gc-next")))
	assert.True(t, pending(t, s, "gc-queued"))
	assert.True(t, pending(t, s, "gc-next"))
}

// TestRedisScheduleObserverAfterAnswers: a batch answers all its waiting
// callers before it reports the reminders of callers that returned early
// to the observer, and from another goroutine; so an observer that calls
// Schedule, and waits for the shard's next script call, holds up no answer (here gc-b's, whose caller would
// otherwise give up and be told ErrUnavailable for a stored reminder).
func TestRedisScheduleObserverAfterAnswers(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	c := r.NewClient(t)
	g := newScriptGate()
	c.AddHook(g.hook())
	var s *reminders.RedisScheduler
	follow := make(chan error, 1)
	obs := reminders.ObserverFunc(func(e reminders.Event) {
		if e.Type == reminders.EventScheduled && e.ID == "gc-left" {
			follow <- s.Schedule(context.Background(), reminders.Reminder{ID: "gc-follow", Kind: "k", DueAt: time.Now().Add(time.Hour)})
		}
	})
	s, err := reminders.NewRedisScheduler(c, reminders.WithKeyPrefix(r.Prefix), reminders.WithObserver(obs))
	require.NoError(t, err)
	require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "warm", Kind: "k", DueAt: time.Now().Add(time.Hour)}))

	a := holdLone(t, s, g)
	l := scheduleAsync(bg(t), s, "gc-l")
	require.Eventually(t, func() bool { return s.Waiting(0) == 1 }, 10*time.Second, time.Millisecond)
	leftCtx, cancelLeft := context.WithCancel(bg(t))
	left := scheduleAsync(leftCtx, s, "gc-left")
	require.Eventually(t, func() bool { return s.Waiting(0) == 2 }, 10*time.Second, time.Millisecond)
	bCtx, cancelB := context.WithCancel(bg(t))
	defer cancelB()
	b := scheduleAsync(bCtx, s, "gc-b")
	require.Eventually(t, func() bool { return s.Waiting(0) == 3 }, 10*time.Second, time.Millisecond)

	g.open <- struct{}{} // gc-a goes; gc-l sends [gc-l gc-left gc-b], held
	require.NoError(t, waitErr(t, a))
	require.Equal(t, []string{"gc-l", "gc-left", "gc-b"}, <-g.held)
	cancelLeft()
	require.ErrorIs(t, waitErr(t, left), reminders.ErrUnavailable)
	z := scheduleAsync(bg(t), s, "gc-z")
	require.Eventually(t, func() bool { return s.Waiting(0) == 1 }, 10*time.Second, time.Millisecond)

	g.open <- struct{}{}                  // the batch is stored; the sender sends gc-z next, held
	require.Contains(t, <-g.held, "gc-z") // alone, or with gc-follow if the observer queued first
	require.NoError(t, waitErr(t, l))
	plain, err := reminders.NewRedisScheduler(r.Client, reminders.WithKeyPrefix(r.Prefix)) // not gated
	require.NoError(t, err)
	assert.True(t, pending(t, plain, "gc-b"), "gc-b is stored")
	var bErr error
	select {
	case bErr = <-b:
	case <-time.After(time.Second):
		cancelB() // the caller's patience ends
		bErr = waitErr(t, b)
	}
	assert.NoError(t, bErr, "gc-b was stored and its reply came back a second ago")

	g.armed.Store(false)
	g.open <- struct{}{}
	require.NoError(t, waitErr(t, z))
	require.NoError(t, <-follow)
	s.WaitSends()
}

// TestRedisScheduleBatchPanic: a panic while a batch is sent (a client
// hook's, here) reaches each caller still waiting for that batch, on its
// own goroutine, as it reaches a lone caller; the process lives on and so
// does the shard.
func TestRedisScheduleBatchPanic(t *testing.T) {
	t.Parallel()
	s, g, c := newGated(t)
	c.AddHook(panicOn("gc-boom"))

	type outcome struct {
		err      error
		panicked any
	}
	guarded := func(id string) <-chan outcome {
		out := make(chan outcome, 1)
		go func() {
			defer func() {
				if v := recover(); v != nil {
					out <- outcome{panicked: v}
				}
			}()
			out <- outcome{err: s.Schedule(bg(t), reminders.Reminder{ID: id, Kind: "k", DueAt: time.Now().Add(time.Hour), Payload: []byte(id)})}
		}()
		return out
	}
	wait := func(ch <-chan outcome) outcome {
		select {
		case o := <-ch:
			return o
		case <-time.After(10 * time.Second):
			t.Fatal("Schedule did not return")
			return outcome{}
		}
	}
	g.armed.Store(true)
	a := guarded("gc-a")
	<-g.held
	boom := guarded("gc-boom")
	require.Eventually(t, func() bool { return s.Waiting(0) == 1 }, 10*time.Second, time.Millisecond)
	b := guarded("gc-b")
	require.Eventually(t, func() bool { return s.Waiting(0) == 2 }, 10*time.Second, time.Millisecond)
	g.armed.Store(false)
	g.open <- struct{}{} // gc-a goes; gc-boom sends gc-boom and gc-b: the hook panics
	assert.Equal(t, outcome{}, wait(a))
	assert.Equal(t, outcome{panicked: "hook"}, wait(boom))
	assert.Equal(t, outcome{panicked: "hook"}, wait(b))
	assert.Equal(t, outcome{}, wait(guarded("gc-next")), "the shard still works")
	assert.True(t, pending(t, s, "gc-next"))
	s.WaitSends()
}

// TestRedisScheduleBatchGoexit: a hook that ends the sender's goroutine
// (runtime.Goexit, as a test's t.FailNow does) while a batch is on its way
// does not wedge the shard: the batch's callers get ErrUnavailable at once,
// and the next call is stored.
func TestRedisScheduleBatchGoexit(t *testing.T) {
	t.Parallel()
	s, g, c := newGated(t)
	c.AddHook(redistest.CommandHook(func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
		if slices.Contains(cmd.Args(), any("gc-exit")) {
			runtime.Goexit()
		}
		return next(ctx, cmd)
	}))
	a := holdLone(t, s, g)
	ex := scheduleAsync(bg(t), s, "gc-exit")
	require.Eventually(t, func() bool { return s.Waiting(0) == 1 }, 10*time.Second, time.Millisecond)
	g.armed.Store(false)
	g.open <- struct{}{} // gc-a goes; a sender sends gc-exit, whose hook ends it
	require.NoError(t, waitErr(t, a))
	assert.ErrorIs(t, waitErr(t, ex), reminders.ErrUnavailable)
	require.NoError(t, waitErr(t, scheduleAsync(bg(t), s, "gc-next")))
	assert.True(t, pending(t, s, "gc-next"))
}

// leaveInFlight stages a call for id whose caller returns while its
// script call, sent by a sender behind a lone call, is held by g: it
// returns with the call held and g disarmed, for the test to let it go.
func leaveInFlight(t *testing.T, s *reminders.RedisScheduler, g *scriptGate, id string) {
	t.Helper()
	a := holdLone(t, s, g)
	ctx, cancel := context.WithCancel(bg(t))
	call := scheduleAsync(ctx, s, id)
	require.Eventually(t, func() bool { return s.Waiting(0) == 1 }, 10*time.Second, time.Millisecond)
	g.open <- struct{}{}
	require.NoError(t, waitErr(t, a))
	require.Equal(t, []string{id}, <-g.held)
	cancel()
	require.ErrorIs(t, waitErr(t, call), reminders.ErrUnavailable)
	g.armed.Store(false)
}

// TestRedisScheduleBatchPanicAllLeft: a panic while a batch is on its way
// whose callers have all returned is logged, since none is left to take
// it, and the process lives on.
func TestRedisScheduleBatchPanicAllLeft(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	s, g, c := newGated(t, reminders.WithLogger(slog.New(logs)))
	c.AddHook(panicOn("gc-boom"))
	leaveInFlight(t, s, g, "gc-boom")
	g.open <- struct{}{} // the hook panics on the sender's goroutine
	s.WaitSends()
	got := logs.find(slog.LevelError, "panic while scheduling")
	require.Len(t, got, 1)
	assert.Equal(t, "hook", got[0]["panic"])
}

// panicOnLeft is a slog handler that panics on every record about the
// reminder "gc-left".
type panicOnLeft struct{}

func (panicOnLeft) Enabled(context.Context, slog.Level) bool { return true }
func (panicOnLeft) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "reminder_id" && a.Value.String() == "gc-left" {
			panic("logger")
		}
		return true
	})
	return nil
}
func (h panicOnLeft) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panicOnLeft) WithGroup(string) slog.Handler      { return h }

// TestRedisScheduleReportLeftLoggerPanic: reporting the stored reminder of
// a caller that returned before its reply, on a goroutine of the
// scheduler's own, survives a logger that panics on it every time (the
// test binary would die otherwise).
func TestRedisScheduleReportLeftLoggerPanic(t *testing.T) {
	t.Parallel()
	s, g, _ := newGated(t, reminders.WithLogger(slog.New(panicOnLeft{})))
	leaveInFlight(t, s, g, "gc-left")
	g.open <- struct{}{} // stored; its report's debug log panics
	s.WaitSends()
	assert.True(t, pending(t, s, "gc-left"))
}

// TestRedisScheduleGroupCommitChunks: calls queued behind one in flight go
// in script calls of at most 128 reminders each (the limit ScheduleMany's
// chunks keep), in arrival order, every one stored.
func TestRedisScheduleGroupCommitChunks(t *testing.T) {
	t.Parallel()
	s, g, _ := newGated(t)
	a := holdLone(t, s, g)
	var outs []<-chan error
	for i := range 300 {
		outs = append(outs, scheduleAsync(bg(t), s, fmt.Sprintf("gc-%03d", i)))
		require.Eventually(t, func() bool { return s.Waiting(0) == i+1 }, 10*time.Second, time.Millisecond)
	}
	g.armed.Store(false)
	g.open <- struct{}{}
	require.NoError(t, waitErr(t, a))
	for _, ch := range outs {
		require.NoError(t, waitErr(t, ch))
	}
	var sizes []int
	var ids []string
	for _, call := range g.callIDs()[1:] {
		sizes = append(sizes, len(call))
		ids = append(ids, call...)
	}
	assert.Equal(t, []int{128, 128, 44}, sizes)
	assert.True(t, slices.IsSorted(ids), "arrival order")
	assert.Len(t, ids, 300)
}

// holdLone schedules "gc-a", which finds the shard idle and goes alone,
// and holds its script call in g (armed from here on), so that the calls
// after it queue; it returns gc-a's outcome, for when g lets it go.
func holdLone(t *testing.T, s *reminders.RedisScheduler, g *scriptGate) <-chan error {
	t.Helper()
	g.armed.Store(true)
	a := scheduleAsync(bg(t), s, "gc-a")
	require.Equal(t, []string{"gc-a"}, <-g.held)
	return a
}
