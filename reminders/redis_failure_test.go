package reminders_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

var fastBackoff = reminders.WithBackoff(time.Millisecond, 10*time.Millisecond)

// logBuffer is a slog handler that keeps every record, for tests that check
// what is logged.
type logBuffer struct {
	mu      sync.Mutex
	records []slog.Record
}

func (b *logBuffer) Enabled(context.Context, slog.Level) bool { return true }
func (b *logBuffer) Handle(_ context.Context, r slog.Record) error {
	b.mu.Lock()
	b.records = append(b.records, r.Clone())
	b.mu.Unlock()
	return nil
}
func (b *logBuffer) WithAttrs([]slog.Attr) slog.Handler { return b }
func (b *logBuffer) WithGroup(string) slog.Handler      { return b }

// find returns the attributes of the records at level whose message
// contains msg.
func (b *logBuffer) find(level slog.Level, msg string) []map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]string
	for _, r := range b.records {
		if r.Level != level || !strings.Contains(r.Message, msg) {
			continue
		}
		m := make(map[string]string)
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
		out = append(out, m)
	}
	return out
}

// TestRedisRetriesDeadAndRequeue: a failing handler gets attempts 1..n,
// the reminder then sits in the dead set with its last error and attempt
// count, and Requeue brings it back at attempt 1.
func TestRedisRetriesDeadAndRequeue(t *testing.T) {
	t.Parallel()
	var got deliveries
	var healthy sync.WaitGroup
	healthy.Add(1)
	fail := true
	var mu sync.Mutex
	logs := &logBuffer{}
	_, s := newRedis(t, reminders.WithMaxRetries(2), fastBackoff, reminders.WithLogger(slog.New(logs)))
	runWorker(t, s, reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
		got.add(d)
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return fmt.Errorf("boom %d", d.Attempt)
		}
		return nil
	}))
	due := time.UnixMilli(time.Now().UnixMilli())
	require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "r", Kind: "k", DueAt: due, Payload: []byte("p")}))

	var dead []reminders.DeadReminder
	require.Eventually(t, func() bool {
		var err error
		dead, err = s.Dead(bg(t), 10)
		return err == nil && len(dead) == 1
	}, 10*time.Second, 10*time.Millisecond)
	ds, _ := got.all()
	require.Len(t, ds, 3)
	for i, d := range ds {
		assert.Equal(t, i+1, d.Attempt)
		assert.Equal(t, due, d.DueAt.Local(), "DueAt stays the scheduled one across retries")
	}
	d := dead[0]
	assert.Equal(t, "r", d.ID)
	assert.Equal(t, "k", d.Kind)
	assert.Equal(t, []byte("p"), d.Payload)
	assert.Equal(t, 3, d.Attempts)
	assert.Equal(t, "boom 3", d.LastError)
	assert.WithinDuration(t, time.Now(), d.DiedAt, 10*time.Second)

	info, err := s.Get(bg(t), "r")
	require.NoError(t, err)
	assert.Equal(t, reminders.StateDead, info.State)
	assert.Equal(t, 3, info.Attempt)
	assert.Equal(t, "boom 3", info.LastError)
	st, err := s.Stats(bg(t))
	require.NoError(t, err)
	assert.Equal(t, [3]int64{0, 0, 1}, [3]int64{st.Pending, st.InFlight, st.Dead})
	assert.ErrorIs(t, s.Cancel(bg(t), "r"), reminders.ErrNotFound, "a dead reminder is not pending")

	// Logged with the standard fields.
	retries := logs.find(slog.LevelWarn, "will retry")
	require.Len(t, retries, 2)
	assert.Equal(t, map[string]string{"task_name": "k", "reminder_id": "r", "attempt": "1"},
		map[string]string{"task_name": retries[0]["task_name"], "reminder_id": retries[0]["reminder_id"], "attempt": retries[0]["attempt"]})
	assert.Len(t, logs.find(slog.LevelError, "dead set"), 1)

	mu.Lock()
	fail = false
	mu.Unlock()
	require.NoError(t, s.Requeue(bg(t), "r"))
	got.waitN(t, 4, 10*time.Second)
	ds, _ = got.all()
	assert.Equal(t, 1, ds[3].Attempt, "Requeue starts again at attempt 1")
	require.Eventually(t, func() bool {
		_, err := s.Get(bg(t), "r")
		return errors.Is(err, reminders.ErrNotFound)
	}, 5*time.Second, 10*time.Millisecond, "acknowledged after Requeue")
	assert.ErrorIs(t, s.Requeue(bg(t), "r"), reminders.ErrNotFound)
	dead, err = s.Dead(bg(t), 10)
	require.NoError(t, err)
	assert.Empty(t, dead)
}

// TestRedisLongestBackoff: the largest backoff WithBackoff accepts puts a
// failed reminder back within MaxBackoff, and the worker lives on. (A max
// of math.MaxInt64 used to be accepted, and the backoff draw then panicked
// on the worker's goroutine, killing the process; it is refused now.)
func TestRedisLongestBackoff(t *testing.T) {
	t.Parallel()
	r, s := newRedis(t, reminders.WithMaxRetries(5), reminders.WithBackoff(reminders.MaxBackoff, reminders.MaxBackoff))
	for _, bad := range [][2]time.Duration{
		{math.MaxInt64, math.MaxInt64},
		{time.Second, math.MaxInt64},
		{time.Second, reminders.MaxBackoff + time.Nanosecond},
		{0, time.Second},
		{2 * time.Second, time.Second},
	} {
		_, err := reminders.NewRedisScheduler(r.Client, reminders.WithBackoff(bad[0], bad[1]))
		require.ErrorIs(t, err, reminders.ErrInvalid, "WithBackoff(%d, %d)", bad[0], bad[1])
		assert.ErrorContains(t, err, "WithBackoff")
	}

	var got deliveries
	runWorker(t, s, reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
		got.add(d)
		return errors.New("down")
	}))
	start := time.Now()
	require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "slow", Kind: "k", DueAt: start}))
	var info reminders.Info
	require.Eventually(t, func() bool {
		var err error
		info, err = s.Get(bg(t), "slow")
		return err == nil && info.State == reminders.StatePending && info.Attempt == 2
	}, 10*time.Second, 10*time.Millisecond, "the failed attempt is put back for retry 1")
	assert.Equal(t, "down", info.LastError)
	assert.False(t, info.At.Before(start), "retry at %s, before the attempt", info.At)
	assert.False(t, info.At.After(time.Now().Add(reminders.MaxBackoff+time.Minute)), "retry at %s, past MaxBackoff", info.At)
	assert.Equal(t, 1, got.len())
}

// TestRedisPanicAndUnknownKind: a panicking handler and a Kind the Mux
// does not know are failed attempts: the worker survives, logs the panic
// with its stack, and dead-letters both with the reason.
func TestRedisPanicAndUnknownKind(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	_, s := newRedis(t, reminders.WithMaxRetries(1), fastBackoff, reminders.WithLogger(slog.New(logs)))
	mux := reminders.NewMux()
	var got deliveries
	mux.HandleFunc("panics", func(_ context.Context, d reminders.Delivery) error {
		got.add(d)
		panic("handler bug")
	})
	mux.HandleFunc("works", func(_ context.Context, d reminders.Delivery) error {
		got.add(d)
		return nil
	})
	runWorker(t, s, mux)
	for _, r := range []reminders.Reminder{
		{ID: "p", Kind: "panics", DueAt: time.Now()},
		{ID: "u", Kind: "unknown", DueAt: time.Now()},
	} {
		require.NoError(t, s.Schedule(bg(t), r))
	}
	var dead []reminders.DeadReminder
	require.Eventually(t, func() bool {
		var err error
		dead, err = s.Dead(bg(t), 10)
		return err == nil && len(dead) == 2
	}, 10*time.Second, 10*time.Millisecond)
	byID := map[string]reminders.DeadReminder{dead[0].ID: dead[0], dead[1].ID: dead[1]}
	assert.Equal(t, 2, byID["p"].Attempts)
	assert.Contains(t, byID["p"].LastError, "panicked: handler bug")
	assert.Equal(t, 2, byID["u"].Attempts)
	assert.Contains(t, byID["u"].LastError, reminders.ErrNoHandler.Error())
	assert.Contains(t, byID["u"].LastError, `"unknown"`)
	assert.Equal(t, 2, got.count("p"))

	panics := logs.find(slog.LevelError, "panicked")
	require.Len(t, panics, 2)
	assert.Contains(t, panics[0]["stack"], "redis_failure_test.go", "the stack shows the handler")
	assert.Equal(t, "p", panics[0]["reminder_id"])
	assert.Equal(t, "panics", panics[0]["task_name"])

	require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "w", Kind: "works", DueAt: time.Now()}))
	require.Eventually(t, func() bool { return got.count("w") == 1 }, 5*time.Second, 5*time.Millisecond,
		"the worker still delivers")
}

// blocker is a handler whose first delivery of each ID blocks until
// released; it records deliveries and how the blocked one ended.
type blocker struct {
	got      deliveries
	started  chan reminders.Delivery
	release  chan error
	ctxEnded chan struct{}
}

func newBlocker() *blocker {
	return &blocker{started: make(chan reminders.Delivery, 10), release: make(chan error), ctxEnded: make(chan struct{}, 10)}
}

func (b *blocker) HandleReminder(ctx context.Context, d reminders.Delivery) error {
	b.got.add(d)
	if b.got.count(d.ID) > 1 {
		return nil
	}
	b.started <- d
	select {
	case err := <-b.release:
		return err
	case <-ctx.Done():
		b.ctxEnded <- struct{}{}
		return <-b.release
	}
}

func (b *blocker) waitStart(t *testing.T) reminders.Delivery {
	t.Helper()
	select {
	case d := <-b.started:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("handler not started")
		return reminders.Delivery{}
	}
}

// TestRedisRescheduleWhileRunning: rescheduling a reminder while its
// handler runs wins over whatever that handler does next: an ack does not
// delete the new version, a failure does not retry the old one, and the
// old attempt's context is cancelled (its lease is gone). The new version
// is delivered once, at its own DueAt, from attempt 1.
func TestRedisRescheduleWhileRunning(t *testing.T) {
	for _, outcome := range []error{nil, errors.New("failed")} {
		t.Run(fmt.Sprint("outcome=", outcome), func(t *testing.T) {
			t.Parallel()
			_, s := newRedis(t, reminders.WithLease(time.Second), fastBackoff)
			b := newBlocker()
			runWorker(t, s, b)
			require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "r", Kind: "k", DueAt: time.Now(), Payload: []byte("v1")}))
			b.waitStart(t)
			due := time.Now().Add(1500 * time.Millisecond)
			require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "r", Kind: "k", DueAt: due, Payload: []byte("v2")}))
			select {
			case <-b.ctxEnded:
			case <-time.After(5 * time.Second):
				t.Fatal("the replaced attempt's context was not cancelled")
			}
			b.release <- outcome

			info, err := s.Get(bg(t), "r")
			require.NoError(t, err, "the old attempt's outcome did not delete the new version")
			assert.Equal(t, reminders.StatePending, info.State)
			assert.Equal(t, 1, info.Attempt)
			assert.Equal(t, []byte("v2"), info.Payload)
			assert.Empty(t, info.LastError, "the old attempt's failure is not recorded")

			b.got.waitN(t, 2, 10*time.Second)
			time.Sleep(500 * time.Millisecond)
			ds, at := b.got.all()
			require.Len(t, ds, 2)
			assert.Equal(t, []byte("v2"), ds[1].Payload)
			assert.Equal(t, 1, ds[1].Attempt)
			assert.False(t, at[1].Before(due), "the new version came %s early", due.Sub(at[1]))
		})
	}
}

// TestRedisStaleOutcomeAfterReclaim: a reminder rescheduled while its
// handler runs, and claimed again before that handler returns, belongs to
// the new claim: the old attempt's ack or failure carries the old
// schedule's version, so it neither deletes nor retries the new one, though
// the reminder is in the lease set again. (The lease set alone cannot tell
// the two claims apart; the versions can.)
func TestRedisStaleOutcomeAfterReclaim(t *testing.T) {
	for _, outcome := range []error{nil, errors.New("failed")} {
		t.Run(fmt.Sprint("outcome=", outcome), func(t *testing.T) {
			t.Parallel()
			logs := &logBuffer{}
			_, s := newRedis(t, reminders.WithLease(time.Second), fastBackoff, reminders.WithLogger(slog.New(logs)))
			started := make(chan string, 4)
			release := map[string]chan error{"v1": make(chan error, 1), "v2": make(chan error, 1)}
			var got deliveries
			runWorker(t, s, reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
				got.add(d)
				started <- string(d.Payload)
				return <-release[string(d.Payload)] // outlives its context on purpose
			}))
			waitFor := func(payload string) {
				t.Helper()
				select {
				case p := <-started:
					require.Equal(t, payload, p)
				case <-time.After(10 * time.Second):
					t.Fatalf("%s not delivered", payload)
				}
			}
			require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "r", Kind: "k", DueAt: time.Now(), Payload: []byte("v1")}))
			waitFor("v1")
			require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "r", Kind: "k", DueAt: time.Now(), Payload: []byte("v2")}))
			waitFor("v2") // claimed again while v1's handler still runs

			release["v1"] <- outcome
			require.Eventually(t, func() bool {
				return len(logs.find(slog.LevelInfo, "outcome ignored")) > 0
			}, 5*time.Second, 5*time.Millisecond, "the old attempt's outcome was not ignored")
			info, err := s.Get(bg(t), "r")
			require.NoError(t, err, "the old attempt's outcome settled the new claim")
			assert.Equal(t, reminders.StateInFlight, info.State)
			assert.Equal(t, []byte("v2"), info.Payload)
			assert.Equal(t, 1, info.Attempt)
			assert.Empty(t, info.LastError, "the old attempt's failure is not recorded")

			release["v2"] <- nil
			require.Eventually(t, func() bool {
				_, err := s.Get(bg(t), "r")
				return errors.Is(err, reminders.ErrNotFound)
			}, 5*time.Second, 5*time.Millisecond, "the new claim's ack settles it")
			assert.Equal(t, 2, got.len())
		})
	}
}

// TestRedisCancelWhileRunning: cancelling a reminder while its handler
// runs means no further attempt, whether the handler then fails or
// succeeds; the attempt's context is cancelled.
func TestRedisCancelWhileRunning(t *testing.T) {
	for _, outcome := range []error{nil, errors.New("failed")} {
		t.Run(fmt.Sprint("outcome=", outcome), func(t *testing.T) {
			t.Parallel()
			_, s := newRedis(t, reminders.WithLease(time.Second), fastBackoff)
			b := newBlocker()
			runWorker(t, s, b)
			require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "r", Kind: "k", DueAt: time.Now()}))
			b.waitStart(t)
			info, err := s.Get(bg(t), "r")
			require.NoError(t, err)
			assert.Equal(t, reminders.StateInFlight, info.State)
			require.NoError(t, s.Cancel(bg(t), "r"))
			select {
			case <-b.ctxEnded:
			case <-time.After(5 * time.Second):
				t.Fatal("the cancelled attempt's context was not cancelled")
			}
			b.release <- outcome
			time.Sleep(1500 * time.Millisecond) // past a lease and a backoff
			assert.Equal(t, 1, b.got.len(), "no attempt after Cancel")
			_, err = s.Get(bg(t), "r")
			assert.ErrorIs(t, err, reminders.ErrNotFound)
			st, err := s.Stats(bg(t))
			require.NoError(t, err)
			assert.Equal(t, [3]int64{0, 0, 0}, [3]int64{st.Pending, st.InFlight, st.Dead})
			assert.ErrorIs(t, s.Cancel(bg(t), "r"), reminders.ErrNotFound)
		})
	}
}
