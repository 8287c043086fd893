package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hibiken/asynq"
	"github.com/sytefy/kit/reminders"
)

// benchKind is the Kind (asynq: task type) of every benchmark reminder.
const benchKind = "appointments.send_reminder"

// job is one reminder to schedule.
type job struct {
	id      string
	due     time.Time
	payload []byte
}

// system is a reminder scheduler under test. Each runs on its own client,
// to its own database.
type system interface {
	name() string
	client() *client
	// schedule stores one reminder, one call.
	schedule(ctx context.Context, j job) error
	// start runs workers with handlers goroutines calling h with each
	// delivered payload; stop shuts them down gracefully.
	start(handlers int, h func(payload []byte)) (stop func() error, err error)
}

// batcher is a system with a call that schedules many reminders at once.
type batcher interface {
	scheduleBatch(ctx context.Context, js []job) error
}

// kitSystem is kit's RedisScheduler with default options, but for the
// concurrency asked for.
type kitSystem struct {
	c      *client
	logger *slog.Logger
	sched  *reminders.RedisScheduler
}

func newKit(c *client, logger *slog.Logger) (*kitSystem, error) {
	s, err := reminders.NewRedisScheduler(c.Client, reminders.WithKeyPrefix("kitbench"), reminders.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	return &kitSystem{c: c, logger: logger, sched: s}, nil
}

func (k *kitSystem) name() string    { return "kit" }
func (k *kitSystem) client() *client { return k.c }

func (k *kitSystem) schedule(ctx context.Context, j job) error {
	return k.sched.Schedule(ctx, reminders.Reminder{ID: j.id, Kind: benchKind, DueAt: j.due, Payload: j.payload})
}

func (k *kitSystem) scheduleBatch(ctx context.Context, js []job) error {
	rs := make([]reminders.Reminder, len(js))
	for i, j := range js {
		rs[i] = reminders.Reminder{ID: j.id, Kind: benchKind, DueAt: j.due, Payload: j.payload}
	}
	return k.sched.ScheduleMany(ctx, rs)
}

func (k *kitSystem) start(handlers int, h func([]byte)) (func() error, error) {
	// A worker is a scheduler with its own concurrency; it shares the
	// scheduler's client and key prefix.
	w, err := reminders.NewRedisScheduler(k.c.Client, reminders.WithKeyPrefix("kitbench"),
		reminders.WithLogger(k.logger), reminders.WithConcurrency(handlers))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- w.Run(ctx, reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
			h(d.Payload)
			return nil
		}))
	}()
	return func() error {
		cancel()
		return <-done
	}, nil
}

// asynqSystem is asynq v0.26.0 with its default options, but for the
// server's concurrency. asynq's keys have a fixed "asynq:" prefix, which is
// why each system has a database of its own.
type asynqSystem struct {
	c  *client
	cl *asynq.Client
}

func newAsynq(c *client) *asynqSystem {
	return &asynqSystem{c: c, cl: asynq.NewClientFromRedisClient(c.Client)}
}

func (a *asynqSystem) name() string    { return "asynq" }
func (a *asynqSystem) client() *client { return a.c }

func (a *asynqSystem) schedule(ctx context.Context, j job) error {
	_, err := a.cl.EnqueueContext(ctx, asynq.NewTask(benchKind, j.payload), asynq.TaskID(j.id), asynq.ProcessAt(j.due))
	return err
}

func (a *asynqSystem) start(handlers int, h func([]byte)) (func() error, error) {
	srv := asynq.NewServerFromRedisClient(a.c.Client, asynq.Config{
		Concurrency: handlers,
		Logger:      asynqLogger{},
		LogLevel:    asynq.WarnLevel,
	})
	err := srv.Start(asynq.HandlerFunc(func(_ context.Context, t *asynq.Task) error {
		h(t.Payload())
		return nil
	}))
	if err != nil {
		return nil, err
	}
	return func() error {
		srv.Shutdown()
		return nil
	}, nil
}

// asynqLogger sends asynq's warnings and errors to stderr.
type asynqLogger struct{}

func (asynqLogger) Debug(args ...any) {}
func (asynqLogger) Info(args ...any)  {}
func (asynqLogger) Warn(args ...any) {
	fmt.Fprintln(os.Stderr, append([]any{"asynq: warn:"}, args...)...)
}
func (asynqLogger) Error(args ...any) {
	fmt.Fprintln(os.Stderr, append([]any{"asynq: error:"}, args...)...)
}
func (asynqLogger) Fatal(args ...any) {
	fmt.Fprintln(os.Stderr, append([]any{"asynq: fatal:"}, args...)...)
}
