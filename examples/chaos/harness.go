package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sytefy/kit/reminders"
	"github.com/sytefy/kit/sessions"
)

const (
	reminderPrefix = "chaos-reminders"
	sessionPrefix  = "chaos-sessions"
)

// harness carries out one run and returns the exit code.
func harness(c config) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "kit-chaos-")
	if err != nil {
		return fatal(err)
	}
	if c.keep {
		fmt.Printf("records, logs and AOF kept in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	srv, err := startRedis(dir)
	if err != nil {
		return fatal(err)
	}
	defer srv.kill()
	exe, err := os.Executable()
	if err != nil {
		return fatal(err)
	}

	fmt.Printf("kit chaos: %d reminders due over %s, %d workers (SIGKILL one every %s), lease %s, %d shards;\n",
		c.reminders, c.window, c.workers, c.killEvery, c.lease, c.shards)
	fmt.Printf("  Redis %s (AOF, fsync always): restart at %.0f%%, SIGSTOP at %.0f%% for %s; %d goroutines calling IsActive; seed %d\n",
		srv.addr, 100*c.restartAt, 100*c.pauseAt, c.pause, c.goroutines, c.seed)

	client := redis.NewClient(&redis.Options{Addr: srv.addr, ContextTimeoutEnabled: true})
	defer client.Close()
	sched, err := reminders.NewRedisScheduler(client, reminders.WithKeyPrefix(reminderPrefix), reminders.WithShards(c.shards))
	if err != nil {
		return fatal(err)
	}
	sessClient := redis.NewClient(&redis.Options{Addr: srv.addr, ContextTimeoutEnabled: true})
	defer sessClient.Close()
	store, err := sessions.NewRedisStore(sessClient, sessions.WithKeyPrefix(sessionPrefix))
	if err != nil {
		return fatal(err)
	}
	var set sessionSet
	if c.goroutines > 0 {
		if set, err = seedSessions(ctx, store, c.users, c.perUser); err != nil {
			return fatal(err)
		}
	}

	// The plan: reminder i due at t0 + i·step. Scheduling happens in the
	// lead time, before the workers start.
	step := c.window / time.Duration(max(c.reminders-1, 1))
	p := plan{n: c.reminders, t0: time.Now().Add(c.lead), step: step}
	if err := schedulePlan(ctx, sched, p); err != nil {
		return fatal(err)
	}
	if late := time.Since(p.t0); late > 0 {
		fmt.Printf("warning: scheduling ended %s after the first due time; raise -lead\n", late)
	}
	since := func() string { return fmt.Sprintf("%+7.1fs", time.Since(p.t0).Seconds()) }

	wp := &pool{exe: exe, dir: dir, args: []string{
		"-addr", srv.addr, "-prefix", reminderPrefix,
		"-lease", c.lease.String(), "-concurrency", strconv.Itoa(c.concurrency),
		"-shards", strconv.Itoa(c.shards), "-work", c.workMax.String(),
	}}
	defer wp.killAll()
	for i := 0; i < c.workers; i++ {
		if _, err := wp.start(); err != nil {
			return fatal(err)
		}
	}

	var f faults
	load := &sessionLoad{store: store, set: set, faults: &f, timeout: c.timeout, slack: c.slack, interval: c.interval}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	if c.goroutines > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); load.run(loadCtx, c.goroutines) }()
	}

	end := p.end()
	faultCtx, stopFaults := context.WithDeadline(ctx, end)
	defer stopFaults()
	var faultErr error
	var faultMu sync.Mutex
	failed := func(err error) {
		faultMu.Lock()
		faultErr = err
		faultMu.Unlock()
	}
	kills := 0
	if c.killEvery > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(c.seed, 1))
			t := time.NewTicker(c.killEvery)
			defer t.Stop()
			for {
				select {
				case <-faultCtx.Done():
					return
				case <-t.C:
				}
				if err := wp.killOne(rng); err != nil {
					failed(err)
					return
				}
				kills++
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		type step struct {
			at float64
			do func() error
		}
		var steps []step
		if c.restartAt >= 0 {
			steps = append(steps, step{c.restartAt, func() error {
				srv.kill()
				f.down("restart")
				fmt.Printf("%s  redis-server SIGKILLed; down for %s\n", since(), c.restartDown)
				if !sleep(ctx, c.restartDown) {
					return ctx.Err()
				}
				f.up()
				if err := srv.start(); err != nil {
					return err
				}
				fmt.Printf("%s  redis-server restarted on its AOF and answers\n", since())
				return nil
			}})
		}
		if c.pauseAt >= 0 {
			steps = append(steps, step{c.pauseAt, func() error {
				if err := srv.pause(); err != nil {
					return err
				}
				f.down("pause")
				fmt.Printf("%s  redis-server SIGSTOPped for %s\n", since(), c.pause)
				if !sleep(ctx, c.pause) {
					_ = srv.resume()
					return ctx.Err()
				}
				f.up()
				fmt.Printf("%s  redis-server SIGCONTed\n", since())
				return srv.resume()
			}})
		}
		if len(steps) == 2 && steps[1].at < steps[0].at {
			steps[0], steps[1] = steps[1], steps[0]
		}
		for _, s := range steps {
			at := p.t0.Add(time.Duration(s.at * float64(c.window)))
			if !sleep(ctx, time.Until(at)) {
				return
			}
			if err := s.do(); err != nil {
				failed(err)
				return
			}
		}
	}()

	sleep(ctx, time.Until(end))
	stopFaults()
	// Calls made after the last outage measure recovery: keep the load a
	// little past the window.
	sleep(ctx, time.Second)
	stopLoad()
	wg.Wait()
	if faultErr != nil {
		return fatal(fmt.Errorf("fault injection: %w", faultErr))
	}
	if ctx.Err() != nil {
		return fatal(ctx.Err())
	}
	fmt.Printf("%s  window over: %d workers SIGKILLed; draining\n", since(), kills)

	st, drained := drain(ctx, sched, c.drain)
	forced := wp.stopAll(15 * time.Second)
	fmt.Printf("%s  workers stopped (%d needed SIGKILL)\n", since(), forced)

	var recs []record
	killedAt := make(map[int]time.Time)
	for _, w := range wp.all() {
		rs, err := parseRecords(w.out, w.instance)
		if err != nil {
			return fatal(err)
		}
		recs = append(recs, rs...)
		if !w.killedAt.IsZero() {
			killedAt[w.instance] = w.killedAt
		}
	}
	outs := f.outages()
	rr := analyze(p, recs, killedAt, outs, c.settle)
	sr := load.report(outs)
	fails := append(rr.failures(), sr.failures()...)
	if !drained {
		fails = append(fails, fmt.Sprintf("not drained after %s: %d pending, %d in flight", c.drain, st.Pending, st.InFlight))
	}
	if st.Dead != 0 {
		fails = append(fails, fmt.Sprintf("%d reminders dead-lettered (the handler never fails)", st.Dead))
	}
	printReport(c, p, rr, sr, st, len(killedAt), outs)
	if len(fails) > 0 {
		fmt.Println("\nFAIL")
		for _, f := range fails {
			fmt.Println("  -", f)
		}
		return 1
	}
	fmt.Println("\nPASS")
	return 0
}

// schedulePlan stores the plan in batches, each one ScheduleMany call.
func schedulePlan(ctx context.Context, s *reminders.RedisScheduler, p plan) error {
	const batch = 500
	rs := make([]reminders.Reminder, 0, batch)
	for i := 0; i < p.n; i++ {
		due := p.due(i)
		rs = append(rs, reminders.Reminder{
			ID: reminderID(i), Kind: "chaos", DueAt: due,
			Payload: []byte(strconv.FormatInt(due.UnixNano(), 10)),
		})
		if len(rs) == batch || i == p.n-1 {
			if err := s.ScheduleMany(ctx, rs); err != nil {
				return fmt.Errorf("schedule: %w", err)
			}
			rs = rs[:0]
		}
	}
	return nil
}

// drain waits until nothing is pending or in flight, or limit passes.
func drain(ctx context.Context, s *reminders.RedisScheduler, limit time.Duration) (reminders.Stats, bool) {
	deadline := time.Now().Add(limit)
	var st reminders.Stats
	for {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		var err error
		st, err = s.Stats(c)
		cancel()
		if err == nil && st.Pending == 0 && st.InFlight == 0 {
			return st, true
		}
		if time.Now().After(deadline) || !sleep(ctx, 250*time.Millisecond) {
			return st, false
		}
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func fatal(err error) int {
	fmt.Fprintf(os.Stderr, "chaos: %v\n", err)
	return 2
}

func printReport(c config, p plan, rr reminderReport, sr sessionReport, st reminders.Stats, killed int, outs []outage) {
	rel := func(t time.Time) string { return fmt.Sprintf("%+.1fs", t.Sub(p.t0).Seconds()) }
	dups := rr.DupKilled + rr.DupOutage + rr.DupOther
	fmt.Println("\n== reminders")
	fmt.Printf("scheduled          %d\n", rr.Scheduled)
	fmt.Printf("delivered          %d (handler starts %d)\n", rr.Delivered, rr.Starts)
	fmt.Printf("lost               %d   (must be 0)\n", len(rr.Lost))
	fmt.Printf("early              %d   (must be 0)\n", rr.Early)
	fmt.Printf("duplicates         %d: %d after a worker was SIGKILLed mid-handler (allowed), %d lease lost during an outage, %d other (must be 0)\n",
		dups, rr.DupKilled, rr.DupOutage, rr.DupOther)
	fmt.Printf("wrong DueAt        %d   (must be 0)\n", rr.DueMismatch)
	fmt.Printf("lateness on time   %s\n", rr.OnTime)
	fmt.Printf("                   first attempts not due during an outage (from %s before it to %s after it)\n", outageLeadIn, c.settle)
	fmt.Printf("lateness redeliv.  %s   (a killed worker's lease of %s had to run out)\n", rr.Redelivered, c.lease)
	fmt.Printf("lateness all       %s   (first starts, outages included)\n", rr.Overall)
	fmt.Printf("workers SIGKILLed  %d\n", killed)
	fmt.Printf("Redis at the end   %d pending, %d in flight, %d dead\n", st.Pending, st.InFlight, st.Dead)
	for _, o := range outs {
		fmt.Printf("outage             %s from %s to %s\n", o.Kind, rel(o.Start), rel(o.End))
	}
	if c.goroutines == 0 {
		return
	}
	fmt.Println("\n== sessions")
	fmt.Printf("IsActive calls     %d (%d errors, %d not wrapping ErrUnavailable)\n", sr.Calls, sr.Errors, sr.ForeignErrors)
	fmt.Printf("fail-open          %d   (must be 0): %d true for a revoked session, %d true during an outage\n",
		sr.TrueRevoked+sr.TrueInOutage, sr.TrueRevoked, sr.TrueInOutage)
	fmt.Printf("lost sessions      %d   (must be 0): (false, nil) for an active session\n", sr.FalseActive)
	fmt.Printf("past deadline      %d   (must be 0): deadline %s, slack %s, latest return %s after a deadline\n",
		sr.Overran, c.timeout, c.slack, round(sr.MaxOverrun))
	for _, rc := range sr.Recovery {
		if rc.FirstOK < 0 {
			fmt.Printf("recovery           after %s at %s: never\n", rc.Outage.Kind, rel(rc.Outage.End))
			continue
		}
		fmt.Printf("recovery           after %s at %s: first success %s, last error %s after it\n",
			rc.Outage.Kind, rel(rc.Outage.End), round(rc.FirstOK), round(rc.LastErr))
	}
}
