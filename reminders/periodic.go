package reminders

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
)

// Periodic schedules recurring reminders (Celery beat, asynq's periodic
// task manager): at each tick of a registered schedule it stores one
// reminder on a Scheduler. It runs the schedules on a gocron v2 scheduler.
//
// Run a Periodic in every instance of a service: all of them fire every
// tick, and the tick still yields one reminder, because
//
//   - its ID is derived from the name and the tick time ("<name>@<tick in
//     UTC, RFC 3339, to the schedule's resolution>"), so that the
//     scheduler's upsert makes any number of stores one reminder; and
//   - a TickStore claim (an atomic "move forward" of the latest claimed
//     tick, not a lock: nothing is held or released) lets one instance
//     store it, so that a slow instance does not store it again after it
//     was delivered. An instance that loses the claim checks a moment
//     later that the reminder was stored; if the winner died in between,
//     the peers take the tick over with a claim of their own (the claimed
//     mark moved a millisecond on), and the one that wins it stores it.
//     A winner being shut down still stores its tick (see Shutdown).
//
// Delivery stays at least once: if the winner has stored the tick but not
// yet marked it done when that check comes (a quarter period later, at
// most 10 s), and its reminder was already delivered, the tick is stored
// and delivered again, with the same ID. So it may be when the scheduler
// is unavailable for longer than that: the winner retries the tick until
// a peer takes it over, reading the marks before every retry, but a retry
// of the winner's on its way as the peer takes over stores it too.
// Handlers are idempotent on Delivery.ID anyway.
//
// Ticks are computed the same way in every instance: a DurationJob ticks
// at the multiples of its period since the Unix epoch (not "every d from
// start-up"), and calendar schedules (CronJob, DailyJob, WeeklyJob) at
// wall-clock times in their time zone.
//
// Missed ticks. When every instance was down across several ticks, the
// next Start stores one reminder, for the latest missed tick, not one per
// tick (a reminder storm after an outage helps no one). The first Start of
// a schedule that never ran stores nothing: it was not missed. That tick
// is claimed like a firing's, since instances starting together all see
// it missed: the winner stores it within its Start (or, while the
// scheduler is unavailable, retries it after Start), and the others check
// after the grace period, as for a firing, without delaying their Start.
// So a tick that an instance claimed and died before storing is stored
// by the next Start one grace period later, not at once. A store or
// scheduler that is unavailable at Start (restarted along with the
// instances, after an outage of all) does not lose the missed tick: it is
// retried with jittered backoff, after Start returns, until the next tick
// supersedes it.
//
// Daylight saving time, in a zone that has it, follows Vixie cron (cron(8)).
// A schedule at particular times of day (a DailyJob or WeeklyJob, or a
// crontab with no '*' in its minute or hour, such as "30 1 * * *") fires
// a wall time that occurs twice when clocks fall back once, at its first
// occurrence (a 01:30 job on fall-back day runs at 01:30 daylight time
// only), and a wall time that does not occur when clocks spring forward
// when the gap ends (a 02:30 job runs at 03:00 on spring-forward day, not
// never). A wildcard schedule (a '*' in the minute or hour, or in the
// seconds of a 6-field crontab, or @hourly) runs by the wall clock as it
// reads: at both occurrences of a repeated
// wall time (an hourly job stays hourly on fall-back day) and not at all
// at a skipped one. A zone without daylight saving time, such as
// Europe/Istanbul, fires every wall time once. Use a named zone, not a
// fixed offset, for schedules meant to follow local time.
//
// A Periodic is safe for concurrent use. It starts goroutines only in
// Start; Shutdown stops them. The zero value is not usable; call
// NewPeriodic.
type Periodic struct {
	s Scheduler
	o periodicOptions

	mu   sync.Mutex // held for bookkeeping only, never across I/O
	jobs []*periodicJob
	run  *periodicRun // nil unless started or starting
	// stopping holds the runs that a Shutdown has taken, until their work
	// has ended: every Shutdown waits for them all.
	stopping map[*periodicRun]struct{}
}

type periodicJob struct {
	name  string
	tk    ticks
	loc   *time.Location // the zone of the tick handed to build
	build func(tick time.Time) Reminder

	mu   sync.Mutex
	last time.Time // the latest tick this instance took up (fireTick)
}

type periodicRun struct {
	sched  gocron.Scheduler
	ctx    context.Context // of firings and peers; Shutdown cancels it
	cancel context.CancelFunc
	peers  sync.WaitGroup // Start's catch-up checks and retries (catchUp, bridge)
	// stores is the context won ticks are stored with: it ends when
	// Shutdown's own ctx ends, not when Shutdown starts (a tick claimed but
	// not done would be stored again by every peer). It has the values of
	// Start's ctx, as ctx has.
	stores     context.Context
	stopStores context.CancelFunc
	// started is closed when Start is done with the run: its catch-up is
	// over and every peer it spawned is counted. fired (set before) says
	// that Start started gocron, which a Shutdown that came during the
	// catch-up prevents.
	started chan struct{}
	fired   bool
	// taken is closed when a Shutdown takes the run; done when all its
	// work has ended (see finish), and logs silenced just before.
	taken   chan struct{}
	done    chan struct{}
	logs    logGate // see gocronLogger
	firings firingGate
}

// until returns a child of parent that also ends when other does. A
// cancellation of parent reaches it at once (before parent's cancel
// returns); one of other's, on a goroutine of its own, unless other has
// ended already. stop releases it.
func until(parent, other context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	unhook := context.AfterFunc(other, cancel)
	if other.Err() != nil {
		cancel()
	}
	return ctx, func() { unhook(); cancel() }
}

// maxPeriodicName leaves room in a reminder ID for "@" and a tick time.
const maxPeriodicName = MaxIDLen - 32

// NewPeriodic returns a Periodic that stores reminders on s. Without
// WithTickStore, it keeps its marks in the same Redis as s when s is a
// *RedisScheduler (under its key prefix), and in memory otherwise: then
// instances do not share their claims, and each stores every tick, so it
// logs a warning unless s is an *EagerScheduler (one process). A wrapper
// around a RedisScheduler needs WithTickStore(NewRedisTickStore(...)). It
// returns an error wrapping ErrInvalid for a nil scheduler (a typed nil
// included) or a bad option. It starts nothing: see Start.
func NewPeriodic(s Scheduler, opts ...PeriodicOption) (*Periodic, error) {
	if isNilValue(s) {
		return nil, fmt.Errorf("%w: NewPeriodic: nil scheduler", ErrInvalid)
	}
	o, err := newPeriodicOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.store == nil {
		o.store = defaultTickStore(s)
		if _, ok := o.store.(*MemoryTickStore); ok && !isEager(s) {
			o.logger.Warn("recurring reminders: the scheduler is not a *RedisScheduler and no WithTickStore was given: " +
				"ticks are claimed in this process only, so every instance stores every tick")
		}
	}
	return &Periodic{s: s, o: o}, nil
}

func isEager(s Scheduler) bool {
	_, ok := s.(*EagerScheduler)
	return ok
}

func defaultTickStore(s Scheduler) TickStore {
	if rs, ok := s.(*RedisScheduler); ok {
		return &RedisTickStore{client: rs.client, prefix: rs.opts.prefix}
	}
	return NewMemoryTickStore()
}

// Register adds a recurring reminder named name, ticking on def:
// gocron.CronJob (5 fields, or 6 with seconds first when its withSeconds
// is true, or a descriptor such as "@daily"; an optional "CRON_TZ=<zone> "
// or "TZ=<zone> " prefix, a named zone followed by a space, sets its time
// zone), gocron.DurationJob (a whole number of seconds), or
// gocron.DailyJob and gocron.WeeklyJob with interval 1. Jobs without a
// zone of their own use WithTimeZone's. Other definitions are refused
// because instances would not agree on their ticks, and so is the zone
// "Local", which is each host's own.
//
// At each tick, build receives the tick time (in the schedule's zone) and
// returns the reminder to store: Kind and Payload, and DueAt (zero means
// the tick). Periodic sets the ID, overwriting any. build must be
// deterministic in the tick, since any instance may call it.
//
// name is 1..224 bytes of valid UTF-8 without control characters, unique
// in this Periodic, and the same in every instance. Register returns an error
// wrapping ErrInvalid, naming the problem, for a bad name or definition,
// a nil build, or when called while the Periodic runs. build itself runs
// only at ticks: a reminder it returns that Schedule refuses (an empty
// Kind, say), or a panic, is logged at ERROR for that tick and nothing is
// stored; call build once in a test to catch such mistakes early.
func (p *Periodic) Register(name string, def gocron.JobDefinition, build func(tick time.Time) Reminder) error {
	if err := validName("Periodic.Register: name", name); err != nil {
		return err
	}
	if len(name) > maxPeriodicName {
		return fmt.Errorf("%w: Periodic.Register: name is %d bytes, limit %d", ErrInvalid, len(name), maxPeriodicName)
	}
	if build == nil {
		return fmt.Errorf("%w: Periodic.Register %q: nil build function", ErrInvalid, name)
	}
	js, err := describe(def, p.o.loc)
	if err != nil {
		return fmt.Errorf("%w: Periodic.Register %q: %w", ErrInvalid, name, err)
	}
	tk, err := ticksOf(js, p.o.loc)
	if err != nil {
		return fmt.Errorf("%w: Periodic.Register %q: %w", ErrInvalid, name, err)
	}
	j := &periodicJob{name: name, tk: tk, loc: p.o.loc, build: build}
	if w, ok := tk.(wallTicks); ok {
		j.loc = w.loc
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.run != nil {
		return fmt.Errorf("%w: Periodic.Register %q: the Periodic is running (Shutdown first)", ErrInvalid, name)
	}
	for _, other := range p.jobs {
		if other.name == name {
			return fmt.Errorf("%w: Periodic.Register: name %q is already registered", ErrInvalid, name)
		}
	}
	p.jobs = append(p.jobs, j)
	return nil
}

// Start catches up on missed ticks (see Periodic), within ctx, and then
// starts firing the registered schedules until Shutdown; ctx's
// cancellation does not stop them. A missed tick whose claim Start wins
// is stored before Start returns, unless the scheduler is unavailable
// (then it is retried; see below). One whose claim it loses is left to a
// goroutine that, after the grace period, stores it if it is still not
// done and no later tick was claimed (see Periodic); a claim that fails
// (the store is unavailable) goes to that goroutine too, which retries it
// like a firing's, and so does a won tick whose Schedule fails with
// ErrUnavailable, retried with jittered backoff (100 ms doubling to 5 s,
// each pause drawn from its upper half) until the next tick supersedes it.
// The same holds for a tick that falls while Start runs. When the marks
// cannot be read (the store is unavailable: it may be starting too, after
// an outage of both), the catch-up goes to such a goroutine as well, which
// reads them again with backoff until the next tick supersedes the missed
// one. Shutdown cancels those goroutines and waits for them. Other
// catch-up failures (an invalid reminder from build, say) are logged, not
// returned: the schedules start anyway.
//
// A Shutdown that comes while Start catches up ends it (see Shutdown):
// Start then returns nil without starting the schedules. Start on a
// running Periodic does nothing; while another Start is under way, it
// waits for that one, within ctx, and returns an error wrapping
// ErrUnavailable and ctx's error if ctx ends first. After Shutdown, Start
// starts it again. It returns an error wrapping ErrInvalid only if gocron
// refuses the schedules, which Register has checked.
func (p *Periodic) Start(ctx context.Context) error {
	run, jobs, err := p.begin(ctx)
	if run == nil || err != nil {
		return err
	}
	defer close(run.started)
	// No lock is held from here on: a Shutdown cancels run.ctx, which ends
	// the catch-up's claims and reads (cctx); a won tick's store runs on
	// within ctx until Shutdown's own ctx ends (sctx), as a firing's does,
	// so that no peer stores it again.
	cctx, stopC := until(run.ctx, ctx)
	defer stopC()
	sctx, stopS := until(run.stores, ctx)
	defer stopS()
	now := p.o.clock.Now()
	for _, j := range jobs {
		if run.ctx.Err() != nil {
			break // a Shutdown ended the catch-up: no further claims
		}
		// When ctx has ended, this job's catch-up fails at once, and goes
		// to a goroutine that retries it (see above).
		p.catchUp(cctx, sctx, run, j, now)
	}
	if run.ctx.Err() != nil {
		// Shut down during the catch-up: this run never fires. That
		// Shutdown waits for the peers the catch-up spawned.
		_ = run.sched.Shutdown()
		return nil
	}
	run.sched.Start()
	run.fired = true
	// A tick that fell between now and gocron's start is neither caught up
	// (catchUp looked before it) nor fired (gocron's first run is after its
	// own start): take it up here.
	later := p.o.clock.Now()
	for _, j := range jobs {
		if run.ctx.Err() != nil {
			break
		}
		p.bridge(cctx, sctx, run, j, now, later)
	}
	return nil
}

// begin makes the run a Start is for, with gocron's jobs defined (gocron
// arms no timer before its Start), and publishes it, so that Shutdown
// finds it and Register refuses; it returns a nil run when there is
// nothing to start (running already), after waiting for a Start under way.
func (p *Periodic) begin(ctx context.Context) (*periodicRun, []*periodicJob, error) {
	for {
		p.mu.Lock()
		other := p.run
		if other == nil {
			break // p.mu held
		}
		p.mu.Unlock()
		select {
		case <-other.started:
		case <-other.taken: // shut down, its Start stuck or not
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("%w: Periodic.Start: another Start is under way: %w", ErrUnavailable, ctx.Err())
		}
		p.mu.Lock()
		running := p.run == other
		p.mu.Unlock()
		if running {
			return nil, nil, nil
		}
		// That run was shut down meanwhile: start a new one.
	}
	defer p.mu.Unlock()
	jobs := slices.Clone(p.jobs)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stores, stopStores := context.WithCancel(context.WithoutCancel(ctx))
	run := &periodicRun{ctx: runCtx, cancel: cancel, stores: stores, stopStores: stopStores,
		started: make(chan struct{}), taken: make(chan struct{}), done: make(chan struct{})}
	stop := func() { cancel(); stopStores() }
	sched, err := gocron.NewScheduler(
		gocron.WithLocation(time.UTC), // ticks carry their own zone; see tickCron
		gocron.WithClock(p.o.clock),
		gocron.WithLogger(gocronLogger{l: p.o.logger, gate: &run.logs}),
	)
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("%w: Periodic.Start: %w", ErrInvalid, err)
	}
	run.sched = sched
	for _, j := range jobs {
		_, err := sched.NewJob(
			// The crontab is only a label: tickCron decides every firing, so
			// that gocron fires at exactly the ticks computed here.
			gocron.CronJob(j.name, false),
			gocron.NewTask(func() { p.fire(run, j) }),
			gocron.WithCronImplementation(tickCron{j.tk}),
			gocron.WithName(j.name),
			// No singleton mode: overlapping firings are harmless (claims are
			// per tick), and its reschedule races its run under a fake clock.
		)
		if err != nil {
			stop()
			_ = sched.Shutdown()
			return nil, nil, fmt.Errorf("%w: Periodic.Start %q: %w", ErrInvalid, j.name, err)
		}
	}
	p.run = run
	return run, jobs, nil
}

// Shutdown stops firing, cancels the contexts of firings in progress and
// of Start's catch-up checks and retries (see Start), and waits for them,
// within ctx. A Start still catching up is ended too: its claims and reads
// are cancelled, it claims no further ticks, and the schedules do not
// start. A firing, or a catch-up, that has won its tick's claim still
// stores the reminder and marks the tick done, until ctx ends: cancelled,
// it would leave the tick claimed but not done, and every peer would store
// it again after its grace period. One waiting to retry (the scheduler was
// unavailable) retries at once, and then with backoff, until ctx ends.
// When ctx ends first (a firing or check that ignores its context, or a
// scheduler still unavailable: with a ctx that never ends, that may be
// until the next tick supersedes the won one), it returns an error
// wrapping ErrUnavailable and ctx's error. The Periodic is stopped all the
// same, and the firings and checks still running end on their own. It is
// safe to call twice, concurrently too, and before Start: every call
// waits, within its own ctx, for all the work of the runs shut down so far
// (the first call's ctx bounds the won ticks' stores). Do not call it from
// a build function, or from a Schedule (or handler) a Periodic's store
// calls: it would wait for its own caller until ctx ends.
func (p *Periodic) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	run := p.run
	if run != nil {
		p.run = nil
		if p.stopping == nil {
			p.stopping = make(map[*periodicRun]struct{})
		}
		p.stopping[run] = struct{}{}
		close(run.taken)
		run.cancel()
		// A won tick's store goes on until ctx ends (see periodicRun.stores).
		unhook := context.AfterFunc(ctx, run.stopStores)
		go p.finish(run, unhook)
	}
	runs := make([]*periodicRun, 0, len(p.stopping))
	for r := range p.stopping {
		runs = append(runs, r)
	}
	p.mu.Unlock()
	for _, r := range runs {
		select {
		case <-r.done:
		case <-ctx.Done():
			if run != nil {
				run.stopStores() // now, not when AfterFunc's goroutine gets to it
			}
			return fmt.Errorf("%w: Periodic.Shutdown: %w", ErrUnavailable, ctx.Err())
		}
	}
	return nil
}

// finish waits, on a goroutine of its own, until the work of run, which a
// Shutdown has taken, has ended: Start done with it, gocron stopped (if
// Start started it), the firings in progress and the peers ended. Then it
// closes run.done.
func (p *Periodic) finish(run *periodicRun, unhook func() bool) {
	<-run.started
	if run.fired {
		// Its jobs only hand each firing to a goroutine (see fire), so it
		// has nothing to wait for; the firings are waited for just below.
		_ = run.sched.Shutdown()
	}
	run.firings.closeAndWait()
	run.peers.Wait()
	unhook()
	run.stopStores()
	p.mu.Lock()
	delete(p.stopping, run)
	p.mu.Unlock()
	run.logs.silence()
	close(run.done)
}
