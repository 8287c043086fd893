package reminders_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// nilErr is an error type whose Error dereferences its receiver: a nil
// *nilErr returned as an error (a typed nil) is a non-nil error whose
// Error panics.
type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg }

// typedNil is the classic mistake: a nil pointer returned as an error.
func typedNil() error {
	var e *nilErr
	return e
}

// TestRedisTypedNilError: a handler that returns a typed nil error (whose
// Error panics) makes a failed attempt, retried and then dead-lettered
// with a reason that says so; the worker survives and goes on delivering,
// and errors.As still finds the handler's error for the observer.
func TestRedisTypedNilError(t *testing.T) {
	t.Parallel()
	var observed []error
	obs := make(chan error, 10)
	_, s := newRedis(t, reminders.WithMaxRetries(1), fastBackoff,
		reminders.WithObserver(reminders.ObserverFunc(func(e reminders.Event) {
			if e.Type == reminders.EventFailed {
				obs <- e.Err
			}
		})))
	mux := reminders.NewMux()
	var got deliveries
	mux.HandleFunc("typed-nil", func(_ context.Context, d reminders.Delivery) error {
		got.add(d)
		return typedNil()
	})
	mux.HandleFunc("works", record(&got))
	runWorker(t, s, mux)
	require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "tn", Kind: "typed-nil", DueAt: time.Now()}))

	var dead []reminders.DeadReminder
	require.Eventually(t, func() bool {
		var err error
		dead, err = s.Dead(bg(t), 10)
		return err == nil && len(dead) == 1
	}, 10*time.Second, 10*time.Millisecond, "retried, then dead-lettered")
	assert.Equal(t, "tn", dead[0].ID)
	assert.Equal(t, 2, dead[0].Attempts)
	assert.Contains(t, dead[0].LastError, "panicked in its Error method")
	assert.Contains(t, dead[0].LastError, "*reminders_test.nilErr")
	for range 2 {
		observed = append(observed, <-obs)
	}
	for _, err := range observed {
		var target *nilErr
		assert.True(t, errors.As(err, &target), "errors.As finds the handler's error in %T", err)
		assert.NotPanics(t, func() { _ = err.Error() })
	}

	require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "w", Kind: "works", DueAt: time.Now()}))
	require.Eventually(t, func() bool { return got.count("w") == 1 }, 5*time.Second, 5*time.Millisecond,
		"the worker still delivers")
}

// TestRedisObserverPanicOnWorker: an observer that panics on a worker's
// goroutine (every event of the delivery, and a dead letter) is logged
// with its stack, and the reminders are handled as if it had not: the
// process survives, the delivered one is acknowledged, the failing one is
// dead-lettered.
func TestRedisObserverPanicOnWorker(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	_, s := newRedis(t, reminders.WithMaxRetries(0), fastBackoff, reminders.WithLogger(slog.New(logs)),
		reminders.WithObserver(reminders.ObserverFunc(func(e reminders.Event) {
			if e.Type != reminders.EventScheduled {
				panic("observer bug: " + string(e.Type))
			}
		})))
	mux := reminders.NewMux()
	var got deliveries
	mux.HandleFunc("works", record(&got))
	mux.HandleFunc("fails", func(_ context.Context, d reminders.Delivery) error {
		got.add(d)
		return errors.New("no")
	})
	runWorker(t, s, mux)
	require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "ok", Kind: "works", DueAt: time.Now()}))
	require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "bad", Kind: "fails", DueAt: time.Now()}))

	require.Eventually(t, func() bool {
		_, err := s.Get(bg(t), "ok")
		dead, derr := s.Dead(bg(t), 10)
		return errors.Is(err, reminders.ErrNotFound) && derr == nil && len(dead) == 1
	}, 10*time.Second, 10*time.Millisecond, "ok acknowledged, bad dead-lettered")
	assert.Equal(t, 1, got.count("ok"))
	assert.Equal(t, 1, got.count("bad"))

	// delivered and succeeded of ok; delivered, failed and dead of bad (the
	// dead event comes once the dead letter is stored: wait for it).
	want := map[any]bool{"delivered": true, "succeeded": true, "failed": true, "dead": true}
	var events map[any]bool
	require.Eventually(t, func() bool {
		events = map[any]bool{}
		for _, p := range logs.find(slog.LevelError, "observer panicked") {
			events[p["event"]] = true
			assert.Contains(t, p["stack"], "redis_usercode_test.go", "the stack shows the observer")
		}
		return len(events) == len(want)
	}, 10*time.Second, 5*time.Millisecond, "logged panics for %v", events)
	assert.Equal(t, want, events)
}

// pipelineHook is a go-redis hook from a function that runs around each
// pipeline and transaction; single commands and dials pass through.
type pipelineHook func(ctx context.Context, cmds []redis.Cmder, next redis.ProcessPipelineHook) error

func (f pipelineHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (f pipelineHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (f pipelineHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { return f(ctx, cmds, next) }
}

// holds reports whether any of cmds has arg among its arguments.
func holds(cmds []redis.Cmder, arg string) bool {
	for _, c := range cmds {
		if slices.Contains(c.Args(), any(arg)) {
			return true
		}
	}
	return false
}

// TestRedisScheduleManyUserPanic: ScheduleMany stores shards on goroutines
// of its own. An observer that panics there is raised again on the
// caller's goroutine, once every shard is done, as from a lone Schedule
// (not a crash of the process); a hook that ends the goroutine
// (runtime.Goexit) fails the call with ErrUnavailable instead of reporting
// success or hanging.
func TestRedisScheduleManyUserPanic(t *testing.T) {
	t.Parallel()
	r, _ := newRedis(t)
	obs := reminders.WithObserver(reminders.ObserverFunc(func(e reminders.Event) {
		if e.ID == "sm-panic" {
			panic("observer bug")
		}
	}))
	s := newOn(t, r.Client, r.Prefix, obs, reminders.WithShards(4))
	rs := []reminders.Reminder{
		{ID: "sm-panic", Kind: "k", DueAt: time.Now().Add(time.Hour)},
		{ID: "sm-other", Kind: "k", DueAt: time.Now().Add(time.Hour)},
	}
	assert.PanicsWithValue(t, "observer bug", func() { _ = s.ScheduleMany(bg(t), rs) })
	for _, x := range rs {
		_, err := s.Get(bg(t), x.ID)
		assert.NoError(t, err, "%s is stored", x.ID)
	}

	c := r.NewClient(t)
	c.AddHook(pipelineHook(func(ctx context.Context, cmds []redis.Cmder, next redis.ProcessPipelineHook) error {
		if holds(cmds, "sm-exit") {
			runtime.Goexit()
		}
		return next(ctx, cmds)
	}))
	s = newOn(t, c, r.Prefix, reminders.WithShards(4))
	err := s.ScheduleMany(bg(t), []reminders.Reminder{
		{ID: "sm-exit", Kind: "k", DueAt: time.Now().Add(time.Hour)},
		{ID: "sm-fine", Kind: "k", DueAt: time.Now().Add(time.Hour)},
	})
	assert.ErrorIs(t, err, reminders.ErrUnavailable)
	_, err = s.Get(bg(t), "sm-exit")
	assert.ErrorIs(t, err, reminders.ErrNotFound, "the exited transaction was never sent")
}
