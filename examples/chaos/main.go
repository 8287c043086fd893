// Command chaos is a fault-injection harness for kit: it proves, under
// SIGKILLed workers, a crashed and restarted Redis and a Redis that stops
// answering, that reminders are never lost and never early, and that
// sessions never fail open.
//
// It starts its own redis-server (append-only file, fsync on every write,
// in a temp directory, on a free port) and, in one run:
//
//   - reminders: schedules -reminders reminders due over -window; runs
//     -workers worker processes (this binary again, in worker mode) and
//     every -kill-every SIGKILLs one and starts a replacement; at
//     -restart-at of the window SIGKILLs redis-server and, -restart-down
//     later, starts it again on the same AOF; at -pause-at SIGSTOPs it for -pause, then SIGCONTs it.
//     Workers record every handler start and finish in files outside Redis;
//     the harness then counts delivered, lost, early and duplicate
//     deliveries and lateness.
//   - sessions: meanwhile -goroutines goroutines call IsActive on active
//     and revoked sessions, counting every true for a revoked session or
//     during an outage, every call that outlived its deadline, and how long
//     IsActive takes to work again after each outage.
//
// The defaults are the full run (about 80 seconds). -preset ci is a short
// one (about a minute). It exits 1 when any must-be-zero count is not zero,
// 2 when the run itself could not be carried out. Linux only (SIGSTOP,
// /proc, parent-death signals); needs redis-server on PATH.
//
//	go run ./chaos                # full run
//	go run ./chaos -preset ci     # the CI run
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
)

// config is every knob of a run.
type config struct {
	reminders   int
	window      time.Duration
	lead        time.Duration
	workers     int
	killEvery   time.Duration
	restartAt   float64
	restartDown time.Duration
	pauseAt     float64
	pause       time.Duration
	lease       time.Duration
	concurrency int
	shards      int
	workMax     time.Duration
	settle      time.Duration
	drain       time.Duration

	goroutines int
	users      int
	perUser    int
	timeout    time.Duration
	slack      time.Duration
	interval   time.Duration

	seed uint64
	keep bool
}

func defaults() config {
	return config{
		reminders: 20000, window: 60 * time.Second, lead: 3 * time.Second,
		workers: 3, killEvery: 3 * time.Second,
		restartAt: 0.5, restartDown: time.Second, pauseAt: 0.7, pause: 10 * time.Second,
		// The lease outlasts the pause, so a worker stalled by an
		// unreachable Redis keeps its claims: only SIGKILLs redeliver.
		lease: 20 * time.Second, concurrency: 10, shards: 4,
		workMax: 20 * time.Millisecond, settle: 2 * time.Second, drain: 90 * time.Second,
		goroutines: 32, users: 200, perUser: 8,
		timeout: 250 * time.Millisecond, slack: 50 * time.Millisecond, interval: 2 * time.Millisecond,
		seed: uint64(time.Now().UnixNano()),
	}
}

// presets scale a run; flags given after -preset override it.
var presets = map[string]func(*config){
	"full": func(*config) {},
	"ci": func(c *config) {
		c.reminders, c.window = 4000, 24*time.Second
		c.pause, c.lease = 5*time.Second, 10*time.Second
		c.drain = 45 * time.Second
	},
}

func main() {
	// go-redis logs every failed dial; in a run that kills Redis on
	// purpose that is noise. The library's own errors are counted instead.
	redis.SetLogger(quiet{})
	os.Exit(run(os.Args[1:]))
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func run(args []string) int {
	c := defaults()
	var w workerFlags
	worker := false
	preset := "full"
	// A first pass finds -preset, so that the other flags override it
	// whatever their order.
	for i, a := range args {
		if (a == "-preset" || a == "--preset") && i+1 < len(args) {
			preset = args[i+1]
		}
	}
	apply, ok := presets[preset]
	if !ok {
		fmt.Fprintf(os.Stderr, "chaos: unknown preset %q (full, ci)\n", preset)
		return 2
	}
	apply(&c)

	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.StringVar(&preset, "preset", preset, "full (default) or ci (about a minute)")
	fs.IntVar(&c.reminders, "reminders", c.reminders, "reminders to schedule")
	fs.DurationVar(&c.window, "window", c.window, "reminders are due evenly over this window")
	fs.DurationVar(&c.lead, "lead", c.lead, "delay before the first due time (scheduling happens in it)")
	fs.IntVar(&c.workers, "workers", c.workers, "worker processes")
	fs.DurationVar(&c.killEvery, "kill-every", c.killEvery, "SIGKILL a worker and start a replacement this often (0: never)")
	fs.Float64Var(&c.restartAt, "restart-at", c.restartAt, "SIGKILL and restart redis-server at this fraction of the window (<0: never)")
	fs.DurationVar(&c.restartDown, "restart-down", c.restartDown, "how long redis-server stays dead before the restart")
	fs.Float64Var(&c.pauseAt, "pause-at", c.pauseAt, "SIGSTOP redis-server at this fraction of the window (<0: never)")
	fs.DurationVar(&c.pause, "pause", c.pause, "how long redis-server stays stopped")
	fs.DurationVar(&c.lease, "lease", c.lease, "workers' lease (visibility timeout)")
	fs.IntVar(&c.concurrency, "concurrency", c.concurrency, "handlers per worker")
	fs.IntVar(&c.shards, "shards", c.shards, "reminder shards")
	fs.DurationVar(&c.workMax, "work", c.workMax, "each handler works a random time up to this")
	fs.DurationVar(&c.settle, "settle", c.settle, "lateness of reminders due within this after an outage is not counted as on-time")
	fs.DurationVar(&c.drain, "drain", c.drain, "after the window, wait at most this long for the last deliveries")
	fs.IntVar(&c.goroutines, "goroutines", c.goroutines, "goroutines calling IsActive")
	fs.IntVar(&c.users, "users", c.users, "users with sessions")
	fs.IntVar(&c.perUser, "per-user", c.perUser, "sessions per user")
	fs.DurationVar(&c.timeout, "timeout", c.timeout, "context deadline of each IsActive call")
	fs.DurationVar(&c.slack, "slack", c.slack, "a call returning later than its deadline plus this outlived it")
	fs.DurationVar(&c.interval, "interval", c.interval, "pause between one goroutine's IsActive calls")
	fs.Uint64Var(&c.seed, "seed", c.seed, "random seed (which worker is killed)")
	fs.BoolVar(&c.keep, "keep", false, "keep the temp directory (records, logs, AOF)")
	fs.BoolVar(&worker, "worker", false, "internal: run as a worker process")
	fs.StringVar(&w.addr, "addr", "", "internal: worker's Redis address")
	fs.StringVar(&w.prefix, "prefix", "", "internal: worker's key prefix")
	fs.StringVar(&w.out, "out", "", "internal: worker's record file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if worker {
		w.lease, w.concurrency, w.shards, w.workMax = c.lease, c.concurrency, c.shards, c.workMax
		if err := runWorker(w); err != nil {
			fmt.Fprintf(os.Stderr, "chaos worker: %v\n", err)
			return 2
		}
		return 0
	}
	if err := c.check(); err != nil {
		fmt.Fprintf(os.Stderr, "chaos: %v\n", err)
		return 2
	}
	return harness(c)
}

func (c config) check() error {
	switch {
	case c.reminders < 1:
		return fmt.Errorf("-reminders %d, want at least 1", c.reminders)
	case c.window <= 0:
		return fmt.Errorf("-window %s, want > 0", c.window)
	case c.workers < 1:
		return fmt.Errorf("-workers %d, want at least 1", c.workers)
	case c.restartAt > 1 || c.pauseAt > 1:
		return fmt.Errorf("-restart-at and -pause-at are fractions of the window, at most 1")
	case c.goroutines < 0:
		return fmt.Errorf("-goroutines %d, want >= 0", c.goroutines)
	case c.goroutines > 0 && (c.users < 10 || c.perUser < 4):
		return fmt.Errorf("-users at least 10 and -per-user at least 4, so that every way of ending a session is covered")
	}
	return nil
}
