package reminders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// claim is one claimed reminder, from the claim script until its handler
// goroutine ends.
type claim struct {
	shard   int
	id      string
	version string // the record's version when claimed: outcomes carry it
	rec     record
	ctx     context.Context // the handler's
	cancel  context.CancelFunc

	mu         sync.Mutex
	leaseUntil int64 // Redis ms; renewed by keepLeases
	// finished: the handler returned (or there is none: a corrupt record),
	// so the outcome is on its way. The lease is no longer renewed, so an
	// outcome Redis keeps refusing is given up when it runs out (the lease
	// expiry then redelivers), and a shutdown does not release the claim
	// under its own outcome. Guarded by mu, with lost, so that finish and
	// release decide atomically which of them wins.
	finished bool
	lost     atomic.Bool
	slot     bool // holds a handler slot (worker.free); guarded by worker.mu
}

func (c *claim) leaseDeadline() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leaseUntil
}

func (c *claim) renewed(until int64) {
	c.mu.Lock()
	c.leaseUntil = max(c.leaseUntil, until)
	c.mu.Unlock()
}

// lose marks the claim as no longer ours (rescheduled, cancelled or
// expired) and cancels the handler's context: its outcome is ignored.
func (c *claim) lose() {
	c.lost.Store(true)
	c.cancel()
}

// finish records that the handler returned. It reports false when the
// claim was lost first (its outcome no longer counts).
func (c *claim) finish() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finished = true
	return !c.lost.Load()
}

// running reports whether the handler still runs and the claim is ours:
// the claims to renew and, at shutdown, to release.
func (c *claim) running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.finished && !c.lost.Load()
}

// loseIfRunning marks a running claim lost, for release, and reports
// whether it did. A claim whose handler has returned is left to its
// outcome, which is on its way: releasing it would deliver again a
// reminder that was handled.
func (c *claim) loseIfRunning() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished || c.lost.Load() {
		return false
	}
	c.lost.Store(true)
	return true
}

// start begins a handler goroutine for a claimed record. A record that
// does not decode is dead-lettered as "corrupt" instead.
func (w *worker) start(sh int, id, raw string, leaseUntil int64) {
	rec, err := parseRecord(raw)
	c := &claim{shard: sh, id: id, version: rec.version, rec: rec, leaseUntil: leaseUntil, slot: true}
	c.ctx, c.cancel = context.WithCancel(w.base)
	w.mu.Lock()
	w.inflight[c] = struct{}{}
	w.running++
	w.mu.Unlock()
	w.handlers.Add(1)
	if err != nil {
		go w.corrupt(c)
		return
	}
	go w.deliver(c)
}

// freeSlot gives back c's handler slot, once: when its handler returned,
// before its outcome is recorded, or at done.
func (w *worker) freeSlot(c *claim) {
	w.mu.Lock()
	held := c.slot
	if held {
		c.slot = false
		w.running--
	}
	w.mu.Unlock()
	if held {
		w.signalFreed()
	}
}

func (w *worker) signalFreed() {
	select {
	case w.freed <- struct{}{}:
	default:
	}
}

// done ends a claim's goroutine.
func (w *worker) done(c *claim) {
	c.cancel()
	w.freeSlot(c)
	w.mu.Lock()
	delete(w.inflight, c)
	w.mu.Unlock()
	w.signalFreed() // an outcome no longer on its way may free a slot too
	w.handlers.Done()
}

func (w *worker) corrupt(c *claim) {
	defer w.done(c)
	if c.finish() && w.settle(c, opDead, 0, errCorrupt.Error()) {
		w.buried(c.ctx, c.shard, c.id, "", c.rec.attempt, errCorrupt)
	}
}

// deliver waits out what remains until DueAt (never early), calls the
// handler and records the outcome.
func (w *worker) deliver(c *claim) {
	defer w.done(c)
	if wait := w.clock.until(c.shard, c.rec.due); wait > 0 && !sleepCtx(c.ctx, wait) {
		return // released before it started
	}
	if c.ctx.Err() != nil {
		return
	}
	d := Delivery{Reminder: c.rec.reminder(c.id), Attempt: c.rec.attempt}
	ev := Event{ID: d.ID, Kind: d.Kind, Attempt: d.Attempt, Shard: c.shard}
	ev.Type, ev.Lateness = EventDelivered, w.clock.now(c.shard).Sub(d.DueAt)
	w.observe(c.ctx, ev)
	w.logAttempt(c.ctx, slog.LevelDebug, "reminders: delivering", d, slog.Duration("lateness", ev.Lateness))

	start := time.Now()
	err := w.call(c.ctx, d)
	ev.Lateness, ev.Duration = 0, time.Since(start)
	c.finish() // if the claim was lost meanwhile, settle ignores the outcome
	w.freeSlot(c)
	if err == nil {
		ev.Type = EventSucceeded
		w.observe(c.ctx, ev)
		if w.settle(c, opAck, 0, "") {
			w.logAttempt(c.ctx, slog.LevelDebug, "reminders: handled", d, slog.Duration("duration", ev.Duration))
		}
		return
	}
	ev.Type, ev.Err = EventFailed, err
	w.observe(c.ctx, ev)
	ev.Duration = 0
	if d.Attempt > w.o.maxRetries {
		if w.settle(c, opDead, 0, errorText(err)) {
			ev.Type = EventDead
			w.observe(c.ctx, ev)
			w.logAttempt(c.ctx, slog.LevelError, "reminders: retries spent; reminder moved to the dead set", d,
				slog.Any("error", err))
		}
		return
	}
	delay := backoffDelay(w.o, d.Attempt)
	at := w.clock.nowMillis(c.shard) + max(delay.Milliseconds(), 1)
	if w.settle(c, opRetry, at, errorText(err)) {
		ev.Type = EventRetried
		w.observe(c.ctx, ev)
		w.logAttempt(c.ctx, slog.LevelWarn, "reminders: attempt failed; will retry", d,
			slog.Any("error", err), slog.Duration("retry_in", delay))
	}
}

// call runs the handler; a panic is a failed attempt, logged with its
// stack, and so is an error whose Error method panics (safeError).
func (w *worker) call(ctx context.Context, d Delivery) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicError(v)
			w.logAttempt(ctx, slog.LevelError, "reminders: handler panicked", d,
				slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
		}
	}()
	return safeError(w.h.HandleReminder(ctx, d))
}

func panicError(v any) error {
	if err, ok := v.(error); ok {
		return fmt.Errorf("reminders: handler panicked: %w", err)
	}
	return fmt.Errorf("reminders: handler panicked: %v", v)
}

// settle records an outcome, retrying while Redis fails, until it is
// recorded (true), found stale (the claim was lost: false), or the lease has
// surely expired, after which recording is pointless: the reminder will be
// taken back and delivered again. The lease is no longer renewed once the
// handler returned (claim.finish), so this ends within a lease even when
// Redis refuses the outcome for good (a key of the wrong type, say) while
// accepting renewals.
func (w *worker) settle(c *claim, op string, at int64, msg string) bool {
	for fails := 0; ; fails++ {
		if c.lost.Load() {
			return false
		}
		applied, err := w.settleOnce(c, op, at, msg)
		if err == nil {
			if !applied {
				w.log.LogAttrs(c.ctx, slog.LevelInfo, "reminders: outcome ignored: the reminder was rescheduled, cancelled or taken back meanwhile",
					slog.String("task_name", c.rec.kind), slog.String("reminder_id", c.id), slog.Int("attempt", c.rec.attempt))
			}
			return applied
		}
		if w.clock.nowMillis(c.shard) > c.leaseDeadline() {
			w.log.LogAttrs(c.ctx, slog.LevelWarn, "reminders: outcome not recorded before the lease expired; the reminder will be delivered again",
				slog.String("task_name", c.rec.kind), slog.String("reminder_id", c.id), slog.Int("attempt", c.rec.attempt),
				slog.String("outcome", op), slog.Any("error", err))
			return false
		}
		// Not c.ctx: a shutdown cancels it, and the outcome is still wanted.
		// No longer than the lease, to give up soon after it ends.
		left := w.clock.until(c.shard, c.leaseDeadline()+1)
		sleepCtx(context.Background(), max(min(retryDelay(fails+1), left), time.Millisecond))
	}
}

// observe hands ev to the observer. It runs on a worker's goroutine, where
// no caller would take a panic: an observer that panics is logged, and
// the reminder's handling goes on.
func (w *worker) observe(ctx context.Context, ev Event) {
	defer func() {
		if v := recover(); v != nil {
			w.s.logSafely(ctx, slog.LevelError, "reminders: observer panicked",
				slog.String("event", string(ev.Type)), slog.String("reminder_id", ev.ID),
				slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
		}
	}()
	w.s.observe(ev)
}

// errorText is err's text as valid UTF-8 (each invalid byte sequence
// becomes U+FFFD), cut to at most maxErrorText bytes on a rune boundary.
func errorText(err error) string {
	s := strings.ToValidUTF8(err.Error(), "\uFFFD")
	if len(s) <= maxErrorText {
		return s
	}
	cut := maxErrorText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func (w *worker) logAttempt(ctx context.Context, level slog.Level, msg string, d Delivery, attrs ...slog.Attr) {
	if !w.log.Enabled(ctx, level) {
		return
	}
	attrs = append([]slog.Attr{
		slog.String("task_name", d.Kind), slog.String("reminder_id", d.ID), slog.Int("attempt", d.Attempt),
	}, attrs...)
	w.log.LogAttrs(ctx, level, msg, attrs...)
}

// errLeaseExpired is the reason a reminder whose lease expired on its last
// attempt is dead-lettered with.
var errLeaseExpired = errors.New("lease expired")

// deadReason maps a reason the claim script reports to its error.
func deadReason(reason string) error {
	switch reason {
	case errCorrupt.Error():
		return errCorrupt
	case errLeaseExpired.Error():
		return errLeaseExpired
	}
	return errors.New(reason)
}
