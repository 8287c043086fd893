// Package boot builds the example service from its configuration (which
// session store and reminder scheduler, on which Redis) and runs it: the
// HTTP server and the reminder workers, with graceful shutdown. The four
// HTTP programs and the worker program share it, so that each of them is
// only its framework's routing.
package boot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sytefy/kit/examples/internal/api"
	"github.com/sytefy/kit/examples/internal/app"
	"github.com/sytefy/kit/reminders"
	"github.com/sytefy/kit/sessions"
)

// ShutdownTimeout bounds how long in-flight HTTP requests may take to
// finish after a shutdown signal; the workers then get the scheduler's own
// shutdown timeout (reminders.DefaultShutdownTimeout).
const ShutdownTimeout = 10 * time.Second

// Option configures New.
type Option func(*options)

type options struct {
	log      *slog.Logger
	notifier app.Notifier
}

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithNotifier sets where reminders are sent. Default: app.LogNotifier,
// which only logs.
func WithNotifier(n app.Notifier) Option { return func(o *options) { o.notifier = n } }

// Service is the example service, built from a Config: its session store,
// reminder scheduler, reminder handlers and HTTP API.
type Service struct {
	// API is the framework-free HTTP layer the routers call.
	API *api.API

	cfg      app.Config
	store    sessions.Store
	sched    reminders.Scheduler
	log      *slog.Logger
	handlers *reminders.Mux
	// queue is the Redis scheduler whose workers this process runs; nil
	// in eager mode.
	queue *reminders.RedisScheduler
	// periodic fires the day-of payment job; API processes run it.
	periodic *reminders.Periodic
	metrics  *metricSet
	client   redis.UniversalClient // nil when no Redis is used
	mini     *miniredis.Miniredis  // the embedded Redis, when REDIS_URL is empty
}

// New builds the service. With cfg.RedisURL empty the sessions live in
// memory and the reminders in an embedded in-process miniredis; with it
// set, both live in that Redis. cfg.Eager replaces the Redis scheduler by
// the eager one. New starts no goroutine, but may start the embedded Redis
// and connect: call Close when done.
func New(cfg app.Config, opts ...Option) (svc *Service, err error) {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if o.notifier == nil {
		o.notifier = app.LogNotifier{Log: o.log}
	}
	if len(cfg.JWTSecret) == 0 {
		return nil, fmt.Errorf("%w: JWT secret is empty", app.ErrConfig)
	}
	s := &Service{cfg: cfg, log: o.log, handlers: app.Handlers(o.log, o.notifier)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := s.connect(); err != nil {
		return nil, err
	}
	if err := s.buildLibrary(); err != nil {
		return nil, err
	}
	if err := s.buildApp(); err != nil {
		return nil, err
	}
	return s, nil
}

// connect picks the Redis: the configured one, or an embedded one unless
// nothing needs it (eager reminders and in-memory sessions).
func (s *Service) connect() (err error) {
	switch {
	case s.cfg.RedisURL != "":
		if s.client, err = dial(s.cfg.RedisURL); err != nil {
			return fmt.Errorf("%w: %w", app.ErrConfig, err)
		}
	case !s.cfg.Eager:
		if s.mini, err = startEmbedded(); err != nil {
			return err
		}
		s.client = redis.NewClient(&redis.Options{Addr: s.mini.Addr(), ContextTimeoutEnabled: true})
	}
	return nil
}

// buildLibrary builds the session store, the reminder scheduler and their
// metrics.
func (s *Service) buildLibrary() (err error) {
	cfg := s.cfg
	if s.metrics, err = newMetrics(); err != nil {
		return err
	}
	sessOpts := []sessions.Option{sessions.WithLogger(s.log), sessions.WithObserver(s.metrics.sessions)}
	remOpts := []reminders.Option{reminders.WithLogger(s.log), reminders.WithObserver(s.metrics.reminders),
		reminders.WithMaxRetries(cfg.MaxRetries)}
	if cfg.KeyPrefix != "" {
		sessOpts = append(sessOpts, sessions.WithKeyPrefix(prefixed(cfg.KeyPrefix, "refresh")))
		remOpts = append(remOpts, reminders.WithKeyPrefix(prefixed(cfg.KeyPrefix, "reminders")))
	}
	if cfg.Workers > 0 {
		remOpts = append(remOpts, reminders.WithConcurrency(cfg.Workers))
	}

	if cfg.RedisURL != "" {
		s.store, err = sessions.NewRedisStore(s.client, sessOpts...)
	} else {
		// No shared Redis: one process, so memory is enough.
		s.store, err = sessions.NewMemoryStore(sessOpts...)
	}
	if err != nil {
		return fmt.Errorf("session store: %w", err)
	}
	if cfg.Eager {
		s.sched, err = reminders.NewEagerScheduler(s.handlers, remOpts...)
	} else {
		s.queue, err = reminders.NewRedisScheduler(s.client, remOpts...)
		s.sched = s.queue
	}
	if err != nil {
		return fmt.Errorf("reminder scheduler: %w", err)
	}
	if s.queue != nil {
		return s.metrics.watch(s.queue)
	}
	return nil
}

// buildApp builds the application services, the day-of payment job and
// the API over them.
func (s *Service) buildApp() error {
	cfg := s.cfg
	users, err := app.NewUsers(cfg.PasswordCost)
	if err != nil {
		return err
	}
	tokens, err := app.NewTokens(cfg.JWTSecret, time.Now)
	if err != nil {
		return err
	}
	auth := app.NewAuth(users, tokens, s.store, s.log, time.Now, cfg.AccessTTL, cfg.RefreshTTL)
	appts := app.NewAppointments(s.sched, s.log, time.Now, cfg.ReminderOffset)
	var payStore app.PaymentStore = &app.MemoryPayments{}
	if s.client != nil {
		// Shared, so a worker process finds the payments the API took.
		payStore = app.NewRedisPayments(s.client, prefixed(cfg.KeyPrefix, "payments"))
	}
	pays := app.NewPayments(s.sched, payStore, s.log, time.Now, cfg.ReminderOffset)
	s.handlers.HandleFunc(app.KindScheduleDay, pays.ScheduleDay)
	if s.periodic, err = reminders.NewPeriodic(s.sched, reminders.WithPeriodicLogger(s.log)); err != nil {
		return fmt.Errorf("periodic: %w", err)
	}
	if err := app.RegisterDailyJob(s.periodic); err != nil {
		return fmt.Errorf("periodic: %w", err)
	}
	s.API = api.New(auth, appts, pays, s.ping, s.log, cfg.RequestTimeout, s.metrics.handler())
	return nil
}

// prefixed is name under the configured key prefix, if any.
func prefixed(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "-" + name
}

// ping is the health check: the Redis answers (always true without one).
func (s *Service) ping(ctx context.Context) error {
	if s.client == nil {
		return nil
	}
	return s.client.Ping(ctx).Err()
}

// runsWorkers reports whether this process delivers reminders.
func (s *Service) runsWorkers() bool { return s.queue != nil && s.cfg.Workers > 0 }

// RunWorkers delivers reminders until ctx ends, then shuts the workers
// down gracefully (running handlers get the scheduler's shutdown timeout).
// It returns nil at once when this configuration runs no workers (eager
// mode, or REMINDER_WORKERS=0).
func (s *Service) RunWorkers(ctx context.Context) error {
	if !s.runsWorkers() {
		return nil
	}
	return s.queue.Run(ctx, s.handlers) // it logs its start and stop
}

// Serve serves h on ln, runs the reminder workers and fires the day-of
// payment job until ctx ends. Then it shuts down in order: the HTTP server
// first (no new requests; running ones get ShutdownTimeout), the recurring
// job, then the workers, so that no request schedules a reminder into a
// process that stopped delivering. It returns
// nil after a shutdown caused by ctx, or the error that stopped the server
// or the workers early.
func (s *Service) Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	// The workers outlive ctx: they are stopped after the HTTP server.
	workerCtx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	var workerDone chan error // nil, so never ready, when no workers run
	if s.runsWorkers() {
		workerDone = make(chan error, 1)
		go func() { workerDone <- s.RunWorkers(workerCtx) }()
	}
	// The day-of job: a missed tick is caught up here, within ctx.
	if err := s.periodic.Start(ctx); err != nil {
		return err
	}
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ln) }()
	s.log.InfoContext(ctx, "listening", "addr", ln.Addr().String())

	var cause error
	select {
	case <-ctx.Done():
		s.log.InfoContext(ctx, "shutting down")
	case err := <-serveDone:
		serveDone <- err
		cause = fmt.Errorf("http server: %w", err)
	case err := <-workerDone:
		if err == nil {
			err = errors.New("Run returned before its context ended")
		}
		workerDone, cause = nil, fmt.Errorf("reminder workers stopped early: %w", err)
	}

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	errs := []error{cause}
	if err := srv.Shutdown(shutdownCtx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		_ = srv.Close()
	}
	if err := <-serveDone; err != nil && !errors.Is(err, http.ErrServerClosed) && cause == nil {
		errs = append(errs, fmt.Errorf("http server: %w", err))
	}
	if err := s.periodic.Shutdown(shutdownCtx); err != nil {
		errs = append(errs, err)
	}
	stopWorkers()
	if workerDone != nil {
		if err := <-workerDone; err != nil {
			errs = append(errs, fmt.Errorf("reminder workers: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Close releases the Redis client and stops the embedded Redis. Call it
// after Serve or RunWorkers returned. Safe to call twice.
func (s *Service) Close() {
	if s.client != nil {
		_ = s.client.Close()
		s.client = nil
	}
	if s.mini != nil {
		s.mini.Close()
		s.mini = nil
	}
}
