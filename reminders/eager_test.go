package reminders_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
	"github.com/sytefy/kit/reminders/remindertest"
)

func TestEagerConformance(t *testing.T) {
	remindertest.RunWith(t, func(t *testing.T, h reminders.Handler, opts ...reminders.Option) reminders.Scheduler {
		s, err := reminders.NewEagerScheduler(h, opts...)
		require.NoError(t, err)
		return s
	}, remindertest.Capabilities{Synchronous: true})
}

func TestNewEagerSchedulerRejectsBadConfig(t *testing.T) {
	_, err := reminders.NewEagerScheduler(nil)
	require.ErrorIs(t, err, reminders.ErrInvalid)
	assert.ErrorContains(t, err, "handler")
	_, err = reminders.NewEagerScheduler(reminders.HandlerFunc(nil))
	require.ErrorIs(t, err, reminders.ErrInvalid, "a typed nil handler")

	ok := reminders.HandlerFunc(func(context.Context, reminders.Delivery) error { return nil })
	_, err = reminders.NewEagerScheduler(ok, reminders.WithMaxRetries(-1))
	require.ErrorIs(t, err, reminders.ErrInvalid)
	assert.ErrorContains(t, err, "WithMaxRetries")

	// A nil option is skipped, so option lists can be built conditionally.
	_, err = reminders.NewEagerScheduler(ok, nil)
	assert.NoError(t, err)
}

// The final error names the last attempt and wraps ErrHandlerFailed and
// the handler's error, so errors.Is works on both.
func TestEagerFinalErrorWrapsHandlerError(t *testing.T) {
	errDown := errors.New("smtp down")
	var calls int
	s, err := reminders.NewEagerScheduler(reminders.HandlerFunc(func(context.Context, reminders.Delivery) error {
		calls++
		return errDown
	}), reminders.WithMaxRetries(1))
	require.NoError(t, err)

	err = s.Schedule(context.Background(), reminders.Reminder{ID: "r1", Kind: "mail", DueAt: time.Now()})
	require.ErrorIs(t, err, errDown)
	require.ErrorIs(t, err, reminders.ErrHandlerFailed, "the package's errors all wrap a sentinel")
	assert.ErrorContains(t, err, "attempt 2 of 2")
	assert.ErrorContains(t, err, `"r1"`)
	assert.Equal(t, 2, calls)
}

// A handler that panics with an error: the final error still wraps it.
func TestEagerPanicWithErrorIsWrapped(t *testing.T) {
	errBug := errors.New("nil map")
	s, err := reminders.NewEagerScheduler(reminders.HandlerFunc(func(context.Context, reminders.Delivery) error {
		panic(errBug)
	}), reminders.WithMaxRetries(0))
	require.NoError(t, err)
	err = s.Schedule(context.Background(), reminders.Reminder{ID: "p", Kind: "k", DueAt: time.Now()})
	assert.ErrorIs(t, err, errBug)
	assert.ErrorContains(t, err, "panicked")
}

// When ctx ends after a failed attempt, retrying stops: the error wraps
// ErrUnavailable, ctx's error and the last attempt's error.
func TestEagerStopsRetryingWhenContextEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []reminders.Option
	}{
		{"NoBackoff", nil},
		// The backoff is long: the context, not the timer, ends the wait.
		{"DuringBackoff", []reminders.Option{reminders.WithBackoff(time.Hour, time.Hour)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errFirst := errors.New("first attempt")
			var calls int
			s, err := reminders.NewEagerScheduler(reminders.HandlerFunc(func(context.Context, reminders.Delivery) error {
				calls++
				cancel() // the request that scheduled it went away
				return errFirst
			}), append(tc.opts, reminders.WithMaxRetries(5))...)
			require.NoError(t, err)

			err = s.Schedule(ctx, reminders.Reminder{ID: "r", Kind: "k", DueAt: time.Now()})
			assert.ErrorIs(t, err, reminders.ErrUnavailable)
			assert.ErrorIs(t, err, context.Canceled)
			assert.ErrorIs(t, err, errFirst)
			assert.ErrorContains(t, err, "before attempt 2")
			assert.Equal(t, 1, calls)
		})
	}
}

// With WithBackoff the eager scheduler waits between attempts; the waits
// are long enough here that a retry cannot start before the deadline.
func TestEagerBackoffWaitsBetweenAttempts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var calls int
	s, err := reminders.NewEagerScheduler(reminders.HandlerFunc(func(context.Context, reminders.Delivery) error {
		calls++
		return errors.New("fail")
	}), reminders.WithBackoff(time.Hour, time.Hour), reminders.WithMaxRetries(3))
	require.NoError(t, err)
	err = s.Schedule(ctx, reminders.Reminder{ID: "r", Kind: "k", DueAt: time.Now()})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 1, calls, "no retry before the (hour-long) backoff")
}

// The handler runs whatever DueAt: a reminder due next week is handled
// inside Schedule, and the observer sees its (negative) lateness.
func TestEagerIgnoresDueAt(t *testing.T) {
	var events []reminders.Event
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	var got []reminders.Delivery
	s, err := reminders.NewEagerScheduler(reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
		got = append(got, d)
		return nil
	}), reminders.WithClock(func() time.Time { return now }),
		reminders.WithObserver(reminders.ObserverFunc(func(e reminders.Event) { events = append(events, e) })))
	require.NoError(t, err)

	due := now.Add(7 * 24 * time.Hour)
	require.NoError(t, s.Schedule(context.Background(), reminders.Reminder{ID: "w", Kind: "k", DueAt: due}))
	require.Len(t, got, 1)
	assert.Equal(t, due, got[0].DueAt)
	require.Len(t, events, 3)
	assert.Equal(t, reminders.EventDelivered, events[1].Type)
	assert.Equal(t, -7*24*time.Hour, events[1].Lateness)
}

// A WithClock clock that steps back while the handler runs (a fake clock
// reset, or NTP) gives a Duration of zero, never a negative one; one that
// steps forward gives the step.
func TestEagerDurationNeverNegative(t *testing.T) {
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	step := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	var events []reminders.Event
	var dt time.Duration
	s, err := reminders.NewEagerScheduler(reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
		step(dt)
		if d.ID == "fails" {
			return errors.New("boom")
		}
		return nil
	}), reminders.WithClock(clock), reminders.WithMaxRetries(0),
		reminders.WithObserver(reminders.ObserverFunc(func(e reminders.Event) { events = append(events, e) })))
	require.NoError(t, err)

	for _, tc := range []struct {
		id   string
		step time.Duration
		want time.Duration
		typ  reminders.EventType
	}{
		{"ok", -time.Hour, 0, reminders.EventSucceeded},
		{"fails", -time.Minute, 0, reminders.EventFailed},
		{"later", 3 * time.Second, 3 * time.Second, reminders.EventSucceeded},
	} {
		events, dt = nil, tc.step
		_ = s.Schedule(context.Background(), reminders.Reminder{ID: tc.id, Kind: "k", DueAt: clock()})
		var got []reminders.Event
		for _, e := range events {
			if e.Type == tc.typ {
				got = append(got, e)
			}
		}
		require.Len(t, got, 1, tc.id)
		assert.Equal(t, tc.want, got[0].Duration, tc.id)
	}
}

func TestEagerCancelIsAlwaysNotFound(t *testing.T) {
	s, err := reminders.NewEagerScheduler(reminders.HandlerFunc(func(context.Context, reminders.Delivery) error { return nil }))
	require.NoError(t, err)
	require.NoError(t, s.Schedule(context.Background(), reminders.Reminder{ID: "done", Kind: "k", DueAt: time.Now()}))
	for _, id := range []string{"done", "never", ""} {
		assert.ErrorIs(t, s.Cancel(context.Background(), id), reminders.ErrNotFound, "Cancel(%q)", id)
	}
}

// Log records carry task_name, reminder_id and attempt.
func TestEagerLogsFields(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := reminders.NewEagerScheduler(reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
		if d.Attempt == 1 {
			return errors.New("once")
		}
		return nil
	}), reminders.WithLogger(logger))
	require.NoError(t, err)
	require.NoError(t, s.Schedule(context.Background(), reminders.Reminder{ID: "log-me", Kind: "mail", DueAt: time.Now()}))

	mu.Lock()
	defer mu.Unlock()
	var records []map[string]any
	dec := json.NewDecoder(&buf)
	for dec.More() {
		var rec map[string]any
		require.NoError(t, dec.Decode(&rec))
		records = append(records, rec)
	}
	require.Len(t, records, 2, "one failed attempt, one success")
	for i, rec := range records {
		assert.Equal(t, "mail", rec["task_name"])
		assert.Equal(t, "log-me", rec["reminder_id"])
		assert.EqualValues(t, i+1, rec["attempt"])
	}
	assert.Equal(t, "WARN", records[0]["level"])
	assert.Equal(t, "once", records[0]["error"])
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// A handler's typed nil error (whose Error panics) is a failed attempt on
// the eager scheduler too: Schedule returns an error whose text says so,
// and errors.As still finds the handler's error.
func TestEagerTypedNilError(t *testing.T) {
	s, err := reminders.NewEagerScheduler(reminders.HandlerFunc(func(context.Context, reminders.Delivery) error {
		return typedNil()
	}), reminders.WithMaxRetries(0))
	require.NoError(t, err)
	err = s.Schedule(context.Background(), reminders.Reminder{ID: "tn", Kind: "k", DueAt: time.Now()})
	require.ErrorIs(t, err, reminders.ErrHandlerFailed)
	assert.Contains(t, err.Error(), "panicked in its Error method")
	var target *nilErr
	assert.True(t, errors.As(err, &target))
}
