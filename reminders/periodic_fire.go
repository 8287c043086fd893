package reminders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// This file is what happens at a tick: the catch-up at Start, each firing,
// the claim, and the peer check that covers a claimer that died.

// catchUp handles, at Start, the latest tick not after now, if no instance
// has stored it: one reminder however many ticks were missed. It stores
// the tick before returning only with a won claim. Instances starting
// together all see it missed, and one that stored it after the winner's
// reminder was delivered would deliver it twice; so a lost claim is
// handed to takeUp on a goroutine of run, for the check after the grace
// period that covers a claimer that died before storing it. takeUp claims
// again first, which loses again, and retries a claim that failed here.
// Marks that cannot be read, and a won tick whose Schedule fails while the
// scheduler is unavailable, are retried on such goroutines too.
func (p *Periodic) catchUp(ctx, sctx context.Context, run *periodicRun, j *periodicJob, now time.Time) {
	tick := prevTick(j.tk, now)
	if tick.IsZero() {
		return
	}
	// Handled here or by another instance, tick is done: gocron's first
	// firing is for a later one (see fireTick).
	j.took(tick)
	claimed, done, err := p.o.store.Marks(ctx, j.name)
	if err != nil {
		// The store may be starting along with this instance, after an
		// outage of both: the look is retried, not skipped.
		p.logTick(ctx, slog.LevelWarn, "recurring reminder: catch-up retrying", j, tick, err)
		run.spawn(func() { p.retryCatchUp(run, j, tick, err) })
		return
	}
	p.catchUpOn(ctx, sctx, run, j, tick, claimed, done)
}

// retryCatchUp reads the marks again with jittered backoff (err is the last
// failure's), on a goroutine of run, and goes on with the catch-up of tick
// once they are read; it gives up when the next tick, which gocron fires,
// supersedes tick.
func (p *Periodic) retryCatchUp(run *periodicRun, j *periodicJob, tick time.Time, err error) {
	ctx := run.ctx
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		delay := equalJitter(backoff)
		if p.superseded(j, tick, delay) {
			p.logTick(ctx, slog.LevelError, "recurring reminder: catch-up given up, the next tick supersedes it", j, tick, err)
			return
		}
		if p.sleep(ctx, delay) != nil {
			return
		}
		var claimed, done time.Time
		claimed, done, err = p.o.store.Marks(ctx, j.name)
		if err == nil {
			p.catchUpOn(ctx, run.stores, run, j, tick, claimed, done)
			return
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// catchUpOn is catchUp once the marks are read. Claims and reads use ctx;
// the store of a won tick uses sctx, which a Shutdown does not end at once
// (see periodicRun.stores).
func (p *Periodic) catchUpOn(ctx, sctx context.Context, run *periodicRun, j *periodicJob, tick, claimed, done time.Time) {
	if claimed.IsZero() && done.IsZero() {
		// Never ran: nothing was missed. Later ticks count from here. The
		// done mark goes with sctx, like a store: claimed alone, the tick
		// would be taken over as if missed.
		_, err := p.o.store.Claim(ctx, j.name, tick)
		if err == nil {
			err = p.o.store.Done(sctx, j.name, tick)
		}
		if err != nil {
			p.logTick(ctx, slog.LevelWarn, "recurring reminder: first mark not stored", j, tick, err)
		}
		return
	}
	if !done.Before(tick) || laterTick(j, tick, claimed) {
		return // stored, or a later tick is being handled
	}
	// Missed while every instance was down, or claimed (or taken over) by
	// one that died before storing it, or claimed by one starting now.
	won, err := p.o.store.Claim(ctx, j.name, tick)
	if err != nil || !won {
		run.takeUpLater(p, j, tick)
		return
	}
	if err := p.scheduleTick(sctx, j, tick); err != nil {
		p.retryWon(ctx, run, j, tick, "recurring reminder: catch-up failed", err)
		return
	}
	p.logTick(ctx, slog.LevelInfo, "recurring reminder: caught up on a missed tick", j, tick, nil)
}

// retryWon handles a failed store of a tick whose claim Start won: while
// the scheduler is unavailable, a goroutine of run retries it as a firing
// would (a won claim is this instance's to store; a peer would only store
// it after its grace period). Any other error is final, and logged.
func (p *Periodic) retryWon(ctx context.Context, run *periodicRun, j *periodicJob, tick time.Time, msg string, err error) {
	if !errors.Is(err, ErrUnavailable) {
		p.logTick(ctx, slog.LevelError, msg, j, tick, err)
		return
	}
	run.spawn(func() { p.takeUp(run.ctx, run, j, tick, tick, err) })
}

// takeUpLater runs takeUp for tick, whose claim this instance does not
// hold, on a goroutine of r.
func (r *periodicRun) takeUpLater(p *Periodic, j *periodicJob, tick time.Time) {
	r.spawn(func() { p.takeUp(r.ctx, r, j, tick, time.Time{}, nil) })
}

// spawn runs f on a goroutine that Shutdown waits for; f stops when r.ctx
// ends.
func (r *periodicRun) spawn(f func()) {
	r.peers.Add(1)
	go func() {
		defer r.peers.Done()
		f()
	}()
}

// bridge handles, at Start, the latest tick in (now, later]: one that fell
// while Start ran, which neither catchUp (at now) nor gocron (started
// after it) takes up. It stores the tick only with a won claim: gocron's
// own firing, or another instance, may be at the same tick; a lost claim
// gets the check after the grace period, as a firing's does.
func (p *Periodic) bridge(ctx, sctx context.Context, run *periodicRun, j *periodicJob, now, later time.Time) {
	tick := prevTick(j.tk, later)
	if tick.IsZero() || !tick.After(now) {
		return
	}
	j.took(tick)
	won, err := p.o.store.Claim(ctx, j.name, tick)
	if err != nil || !won {
		// Retried, or checked after the grace period, on a goroutine, as a
		// firing's failed or lost claim is: the winner may have died.
		run.takeUpLater(p, j, tick)
		return
	}
	if err := p.scheduleTick(sctx, j, tick); err != nil {
		p.retryWon(ctx, run, j, tick, "recurring reminder: tick during Start not stored", err)
	}
}

// fire runs on gocron's goroutine at each tick, and hands the tick to a
// goroutine of the run's firings (see firingGate): gocron's job returns at
// once, so that its stop never gives up on a firing that is still storing
// a won tick. The firing's context is the run's: one after Shutdown
// (gocron is stopped only once Start is done with the run) claims nothing,
// as it could not store what it won.
func (p *Periodic) fire(run *periodicRun, j *periodicJob) {
	if run.ctx.Err() != nil {
		return
	}
	tick := j.fireTick(p.o.clock.Now())
	if tick.IsZero() || !run.firings.enter() {
		return
	}
	go func() {
		defer run.firings.leave()
		p.takeUp(run.ctx, run, j, tick, time.Time{}, nil)
	}()
}

// takeUp claims tick (unless won says this instance holds the claim) and
// stores its reminder, or checks that the claim's winner did
// (handleTick). It retries while the store or the scheduler is
// unavailable, with jittered backoff (equalJitter: every instance fires
// the same tick, and a shared outage must not have them retry in step),
// until the next tick supersedes this one.
// held is the claimed mark this instance holds for tick (handleTick), or
// zero. failed is the error of a store that just failed (Start's, handed
// over), or nil: the first try is then made at once. Once Shutdown has
// cancelled ctx, a held tick is still retried, at once and then with
// backoff, until Shutdown's own ctx ends (run.stores): a tick claimed but
// not done would be stored again by every peer.
func (p *Periodic) takeUp(ctx context.Context, run *periodicRun, j *periodicJob, tick, held time.Time, failed error) {
	defer func() {
		if v := recover(); v != nil {
			p.o.logger.LogAttrs(ctx, slog.LevelError, "recurring reminder: panic", slog.String("periodic", j.name), slog.Any("panic", v))
		}
	}()
	// over reports whether to stop: ctx has ended, and no claim is held or
	// Shutdown's own ctx has ended too.
	over := func() bool { return ctx.Err() != nil && (held.IsZero() || run.stores.Err() != nil) }
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		if failed == nil {
			failed = p.handleTick(ctx, run, j, tick, &held)
			if failed == nil || over() {
				return
			}
			if !errors.Is(failed, ErrUnavailable) {
				// An invalid reminder from build, or (eager scheduler) the
				// handler's final error: retrying would not help.
				p.logTick(ctx, slog.LevelError, "recurring reminder: not stored", j, tick, failed)
				return
			}
		}
		delay := equalJitter(backoff)
		if p.superseded(j, tick, delay) {
			p.logTick(ctx, slog.LevelError, "recurring reminder: tick given up, the next one supersedes it", j, tick, failed)
			return
		}
		p.logTick(ctx, slog.LevelWarn, "recurring reminder: retrying", j, tick, failed)
		if ctx.Err() == nil {
			_ = p.sleep(ctx, delay) // cut short by Shutdown: retry at once
		} else if p.sleep(run.stores, delay) != nil {
			return
		}
		if over() {
			return
		}
		if !held.IsZero() && p.handled(run.stores, j, tick, held) {
			return
		}
		failed = nil
	}
}

// superseded reports whether the tick after tick comes before a retry
// after delay would: tick is then given up for it.
func (p *Periodic) superseded(j *periodicJob, tick time.Time, delay time.Duration) bool {
	next := j.tk.next(tick)
	return !next.IsZero() && !p.o.clock.Now().Add(delay).Before(next)
}

// handled reports whether the marks say tick was stored, or claimed by
// another instance, since this one took up its claim (held, the claimed
// mark it set): a later tick, or a peer's takeover of this one (see
// handleTick). A claim's holder retries for as long as the scheduler is
// unavailable, and a peer whose grace period ran out meanwhile takes the
// tick over and retries it: the holder looks before every retry, and stops
// once the tick is stored or taken over. (Both can still store it when a
// retry of the holder's was on its way as the peer took over; the
// reminder's ID is the same, and delivery is at least once.) A store that
// cannot be read says no: the retry goes ahead.
func (p *Periodic) handled(ctx context.Context, j *periodicJob, tick, held time.Time) bool {
	claimed, done, err := p.o.store.Marks(ctx, j.name)
	return err == nil && (!done.Before(tick) || claimed.After(held))
}

// sleep waits d on the clock, or returns ctx's error if ctx ends first. It
// stops its timer either way: on a fake clock, a sleep cancelled by
// Shutdown would otherwise stay a waiter, and tests that count waiters
// after a restart would count it.
func (p *Periodic) sleep(ctx context.Context, d time.Duration) error {
	t := p.o.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.Chan():
		return nil
	}
}

// fireTick is the tick a firing at now stands for, and records it as
// taken up. gocron fires each tick once, at or after it, so a firing is
// for a tick later than any taken up before: normally prevTick(now). But
// gocron's timers run on the monotonic clock, and a wall clock stepped
// back a little since the timer was set reads just before the tick it
// fired for; prevTick(now) is then the tick already taken up, and the real
// one would be lost. So when prevTick(now) was taken up already, and now
// is nearer to the next tick than to it (or even before it), the firing is
// for the next tick. A repeated firing, by contrast, comes just after the
// tick it repeats and keeps its label: its claim then fails, harmlessly.
func (j *periodicJob) fireTick(now time.Time) time.Time {
	tick := prevTick(j.tk, now)
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.last.IsZero() && !tick.After(j.last) {
		n := j.tk.next(j.last)
		if !n.IsZero() && (now.Before(j.last) || n.Sub(now) < now.Sub(j.last)) {
			tick = n
		}
	}
	if tick.After(j.last) {
		j.last = tick
	}
	return tick
}

// took records tick as taken up by this instance (see fireTick).
func (j *periodicJob) took(tick time.Time) {
	j.mu.Lock()
	if tick.After(j.last) {
		j.last = tick
	}
	j.mu.Unlock()
}

// handleTick claims tick and stores its reminder. Having lost the claim,
// it waits a grace period and reads the marks: a tick still neither
// stored nor superseded by a later one, whose claimed mark has not moved
// for the whole period, was claimed by an instance that died or is stuck,
// and the peers take it over with a claim of their own, the mark moved
// 1 ms on (still this tick's: see laterTick). Peers that saw the same
// mark contend for the same move, so one of them stores the tick; a peer
// that finds the mark moved (a takeover it did not see) gives that one a
// grace period too, in case it dies as well. held is the claimed mark this
// instance holds, zero for none, kept across retries.
func (p *Periodic) handleTick(ctx context.Context, run *periodicRun, j *periodicJob, tick time.Time, held *time.Time) error {
	if held.IsZero() {
		ok, err := p.o.store.Claim(ctx, j.name, tick)
		if err != nil {
			return err
		}
		if ok {
			*held = tick
		}
	}
	seen := tick // the claimed mark as last seen; the claim just lost was at least this
	for held.IsZero() {
		grace := peerGrace(j.tk, tick)
		if p.superseded(j, tick, grace) {
			return nil // the next tick comes first; its reminder stands for this one
		}
		if err := p.sleep(ctx, grace); err != nil {
			return err
		}
		claimed, done, err := p.o.store.Marks(ctx, j.name)
		if err != nil {
			return err
		}
		if !done.Before(tick) || laterTick(j, tick, claimed) {
			return nil // the winner stored it, or a later tick is under way
		}
		if claimed.After(seen) {
			seen = claimed // taken over meanwhile: that one gets its grace period
			continue
		}
		mark := seen.Add(time.Millisecond)
		if claimed.Before(tick) {
			mark = tick // a store that lost its marks: claim the tick itself
		}
		if laterTick(j, tick, mark) {
			return nil // no room left for a takeover; the next tick stands for this one
		}
		ok, err := p.o.store.Claim(ctx, j.name, mark)
		if err != nil {
			return err
		}
		if !ok {
			seen = mark // another peer took it over first
			continue
		}
		p.logTick(ctx, slog.LevelWarn, "recurring reminder: claimer did not store the tick, storing it", j, tick, nil)
		*held = mark
	}
	// Shutdown cancels ctx, but a won claim's reminder is still stored and
	// its tick marked done (within Shutdown's own ctx): otherwise the peers
	// would store it again after their grace period.
	return p.scheduleTick(run.stores, j, tick)
}

// laterTick reports whether the claimed mark m belongs to a tick after
// tick. A mark belongs to the latest tick not after it: a takeover's mark
// lies a few ms past its tick (handleTick), and ticks are a second apart
// at least.
func laterTick(j *periodicJob, tick, m time.Time) bool {
	next := j.tk.next(tick)
	return !next.IsZero() && !m.Before(next)
}

// peerGrace is how long a peer waits for a claimer: a quarter of the
// period, at most 10s.
func peerGrace(tk ticks, tick time.Time) time.Duration {
	next := tk.next(tick)
	if next.IsZero() {
		return 10 * time.Second
	}
	return min(next.Sub(tick)/4, 10*time.Second)
}

// scheduleTick builds tick's reminder, stores it and marks the tick done.
func (p *Periodic) scheduleTick(ctx context.Context, j *periodicJob, tick time.Time) error {
	r, err := p.build(j, tick)
	if err != nil {
		return err
	}
	if err := p.s.Schedule(ctx, r); err != nil {
		return err
	}
	if err := p.o.store.Done(ctx, j.name, tick); err != nil {
		// Stored; only the mark is missing. A peer or the next Start may
		// store it again, which the upsert absorbs while it is pending.
		p.logTick(ctx, slog.LevelWarn, "recurring reminder: stored, but not marked done", j, tick, err)
	}
	p.logTick(ctx, slog.LevelDebug, "recurring reminder: stored", j, tick, nil)
	return nil
}

// build calls the user's build function, turning a panic into ErrInvalid
// (a bug that retrying will not fix).
func (p *Periodic) build(j *periodicJob, tick time.Time) (r Reminder, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: recurring reminder %q: build panicked: %v", ErrInvalid, j.name, v)
		}
	}()
	r = j.build(tick.In(j.loc))
	r.ID = tickID(j.name, tick, j.tk.resolution())
	if r.DueAt.IsZero() {
		r.DueAt = tick
	}
	return r, nil
}

func (p *Periodic) logTick(ctx context.Context, level slog.Level, msg string, j *periodicJob, tick time.Time, err error) {
	if !p.o.logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("periodic", j.name),
		slog.String("reminder_id", tickID(j.name, tick, j.tk.resolution())),
		slog.Time("tick", tick),
	}
	if err != nil {
		attrs = append(attrs, slog.Any("error", err))
	}
	p.o.logger.LogAttrs(ctx, level, msg, attrs...)
}
