// Command bench measures kit against the raw go-redis client and against
// asynq v0.26.0, on one Redis, in one run, and prints a table and a JSON
// line (issue 6).
//
// Sessions: ops/s and p50/p99 latency of IsActive, Remember, Rotate and
// RevokeAllForUser (a user with 20 sessions) at each concurrency, next to
// raw GET and EVALSHA of a trivial script, with the ratio of each to its
// raw counterpart and the round trips per operation (counted by a go-redis
// hook).
//
// Reminders, for kit and for asynq: scheduling throughput (one per call,
// and in batches), memory per pending reminder, drain throughput of
// reminders all due at once, the longest SLOWLOG command while draining,
// and lateness at a steady rate.
//
// Each system writes to a database of its own (-kit-db, -asynq-db), which
// must be empty at the start and is flushed at the end; nothing else on
// the server is touched but SLOWLOG's setting during the drains, which
// is restored. Every phase is bounded in time and the run stops by itself.
//
//	go run ./bench            # full run, a few minutes
//	go run ./bench -quick     # smoke run
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

func main() {
	cfg, err := parseConfig(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return // -h: the flag package printed the usage
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) (err error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	begin := time.Now()
	progress := func(s string) {
		fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(begin).Seconds(), s)
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	// Cleanup must run even when ctx has ended (Ctrl-C, -timeout).
	cleanupCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	}
	admin, err := dial(ctx, cfg.RedisURL, cfg.KitDB, "kitbench-admin", 4)
	if err != nil {
		return err
	}
	defer admin.Close()
	kitC, err := dial(ctx, cfg.RedisURL, cfg.KitDB, "kitbench-kit", cfg.Pool)
	if err != nil {
		return err
	}
	defer kitC.Close()
	owned := []*client{kitC}
	var asynqC *client // nil with -skip-asynq: its database is left alone
	if !cfg.SkipAsynq {
		if asynqC, err = dial(ctx, cfg.RedisURL, cfg.AsynqDB, "kitbench-asynq", cfg.Pool); err != nil {
			return err
		}
		defer asynqC.Close()
		owned = append(owned, asynqC)
	}
	for _, c := range owned {
		if err := claimDB(ctx, c, cfg.FlushFirst); err != nil {
			return err
		}
	}
	defer func() {
		cctx, cancel := cleanupCtx()
		defer cancel()
		for _, c := range owned {
			err = errors.Join(err, c.FlushDBAsync(cctx).Err()) // freed in the background: nothing is measured now
		}
	}()
	rep := &report{Command: commandLine(), Flags: cfg.Flags, Machine: describeMachine(), Started: begin}
	if rep.Redis, err = describeServer(ctx, admin); err != nil {
		return err
	}
	if !cfg.SkipSessions {
		b, err := newSessionsBench(cfg, kitC)
		if err != nil {
			return err
		}
		cells, err := b.run(ctx, progress)
		rep.Sessions = cells
		if err != nil {
			rep.Errors = append(rep.Errors, "sessions: "+err.Error())
		}
		if err := kitC.FlushDB(ctx).Err(); err != nil {
			return err
		}
	}
	if cfg.SkipRems {
		return rep.finish(os.Stdout, begin)
	}
	// Library warnings go to stderr, apart from the report.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	kit, err := newKit(kitC, logger)
	if err != nil {
		return err
	}
	systems := []system{kit}
	if !cfg.SkipAsynq {
		systems = append(systems, newAsynq(asynqC))
	}
	benches := make([]*remindersBench, len(systems))
	for i, s := range systems {
		benches[i] = &remindersBench{cfg: cfg, sys: s, admin: admin, progress: progress}
	}
	rep.Reminders = runReminders(ctx, benches)
	return rep.finish(os.Stdout, begin)
}

// commandLine is how this run was started, for the report.
func commandLine() string {
	return strings.Join(append([]string{"bench"}, os.Args[1:]...), " ")
}
