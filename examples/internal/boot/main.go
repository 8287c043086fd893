package boot

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/lmittmann/tint"
	"github.com/mattn/go-isatty"

	"github.com/sytefy/kit/examples/internal/api"
	"github.com/sytefy/kit/examples/internal/app"
)

// Logger returns the service's logger: slog through tint's handler
// (human-readable, coloured when w is a terminal), at INFO.
func Logger(w io.Writer) *slog.Logger {
	color := false
	if f, ok := w.(*os.File); ok {
		color = isatty.IsTerminal(f.Fd())
	}
	return slog.New(tint.NewHandler(w, &tint.Options{Level: slog.LevelInfo, NoColor: !color}))
}

// Main is the body of each HTTP program: configuration from the
// environment, the service, a listener on ADDR, and Serve until ctx ends
// (main cancels it on SIGINT or SIGTERM). newHandler is the program's
// router over the API.
func Main(ctx context.Context, newHandler func(*api.API) http.Handler) error {
	log := Logger(os.Stderr)
	cfg, err := app.LoadConfig(os.Getenv)
	if err != nil {
		return err
	}
	if cfg.SecretGenerated {
		log.Warn("JWT_SECRET is not set: using a random key, so tokens stop working when the process restarts")
	}
	describe(log, cfg)
	svc, err := New(cfg, WithLogger(log))
	if err != nil {
		return err
	}
	defer svc.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on ADDR %q: %w", cfg.Addr, err)
	}
	return svc.Serve(ctx, ln, newHandler(svc.API))
}

// Worker is the body of the worker program: it only delivers reminders,
// from the Redis at REDIS_URL, until ctx ends.
func Worker(ctx context.Context) error {
	log := Logger(os.Stderr)
	cfg, err := app.LoadConfig(os.Getenv)
	if err != nil {
		return err
	}
	switch {
	case cfg.RedisURL == "":
		return fmt.Errorf("%w: the worker needs REDIS_URL (the API's embedded Redis is private to its process)", app.ErrConfig)
	case cfg.Eager:
		return fmt.Errorf("%w: REMINDERS_EAGER=1 runs reminders inside the API; there is nothing for a worker to do", app.ErrConfig)
	case cfg.Workers == 0:
		return fmt.Errorf("%w: REMINDER_WORKERS=0 leaves the worker nothing to run", app.ErrConfig)
	}
	describe(log, cfg)
	svc, err := New(cfg, WithLogger(log))
	if err != nil {
		return err
	}
	defer svc.Close()
	return svc.RunWorkers(ctx)
}

// describe logs what the configuration chose, without secrets.
func describe(log *slog.Logger, cfg app.Config) {
	store, sched := "memory", "redis (embedded in-process miniredis: REDIS_URL is not set)"
	if cfg.RedisURL != "" {
		store, sched = "redis", "redis"
		log.Info("redis", "url", redactURL(cfg.RedisURL))
	}
	if cfg.Eager {
		sched = "eager (REMINDERS_EAGER=1)"
	}
	log.Info("configuration", "sessions", store, "reminders", sched,
		"reminder_offset", cfg.ReminderOffset, "reminder_max_retries", cfg.MaxRetries, "reminder_workers", cfg.Workers)
}
