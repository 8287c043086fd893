package reminders

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// EagerScheduler runs the handler inside Schedule, whatever the DueAt, the
// way Celery's task_always_eager does: development and tests need no Redis
// and no worker, and a handler's error surfaces where the reminder was
// scheduled.
//
// Schedule makes up to maxRetries+1 attempts (WithMaxRetries, default 3),
// numbered from 1 as on the Redis backend. Between attempts it sleeps only
// when WithBackoff was given (full jitter, as on the Redis backend), so
// tests stay fast by default. A panic in the handler is a failed attempt.
// Nothing is stored: Cancel always returns an error wrapping ErrNotFound.
//
// An EagerScheduler is safe for concurrent use; it starts no goroutine.
// Schedule runs the handler on the caller's goroutine, so concurrent calls
// run the handler concurrently. The zero value is not usable; call
// NewEagerScheduler.
type EagerScheduler struct {
	h    Handler
	opts *options
}

var _ Scheduler = (*EagerScheduler)(nil)

// NewEagerScheduler returns a scheduler that delivers to h synchronously.
// It uses WithMaxRetries, WithBackoff, WithMaxPayload, WithLogger,
// WithObserver and WithClock, and ignores the Redis options. It returns an
// error wrapping ErrInvalid for a nil handler (a typed nil, such as a nil
// HandlerFunc, included) or an invalid option.
func NewEagerScheduler(h Handler, opts ...Option) (*EagerScheduler, error) {
	if isNilValue(h) {
		return nil, fmt.Errorf("%w: NewEagerScheduler: nil handler", ErrInvalid)
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	return &EagerScheduler{h: h, opts: o}, nil
}

// Schedule validates r and then handles it at once: attempt 1, and on
// failure attempts 2..maxRetries+1. It returns:
//
//   - nil when an attempt succeeded;
//   - an error wrapping ErrInvalid, naming the field, for bad input (the
//     handler is not called);
//   - an error wrapping ErrHandlerFailed and the last attempt's error, and
//     naming that attempt, when the retries are spent;
//   - an error wrapping both ErrUnavailable and ctx.Err() when ctx ended
//     before an attempt could start (before the first, or while waiting to
//     retry); if an attempt had failed, the error wraps its error too.
//
// The handler gets ctx and should honour it; Schedule does not abandon a
// running handler.
func (s *EagerScheduler) Schedule(ctx context.Context, r Reminder) error {
	if err := validate(r, s.opts.maxPayload); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: reminder %q not handled: %w", ErrUnavailable, r.ID, err)
	}
	// Deliver what a store would give back: DueAt in UTC whole
	// milliseconds (rounded up, as the Redis backend keeps it), and, to
	// each attempt, a copy of the payload (nil when empty), so that
	// neither the caller's slice nor a later retry sees what a failed
	// attempt wrote into it, as a store's reads would not.
	r.DueAt = time.UnixMilli(dueMillis(r.DueAt)).UTC()
	if len(r.Payload) == 0 {
		r.Payload = nil
	}
	s.observe(Event{Type: EventScheduled, ID: r.ID, Kind: r.Kind, Attempt: 1})
	attempts := s.opts.maxRetries + 1
	var lastErr error
	for attempt := 1; attempt <= attempts; attempt++ {
		if attempt > 1 {
			if err := s.wait(ctx, attempt-1); err != nil {
				return fmt.Errorf("%w: reminder %q: stopped before attempt %d: %w (attempt %d failed: %w)",
					ErrUnavailable, r.ID, attempt, err, attempt-1, lastErr)
			}
		}
		d := Delivery{Reminder: r, Attempt: attempt}
		d.Payload = bytes.Clone(r.Payload)
		lastErr = s.attempt(ctx, d)
		if lastErr == nil {
			return nil
		}
		if attempt < attempts {
			s.observe(Event{Type: EventRetried, ID: r.ID, Kind: r.Kind, Attempt: attempt, Err: lastErr})
		}
	}
	// Retries spent. Nothing is stored, but observers count it as a dead
	// letter so that metrics mean the same on both backends.
	s.observe(Event{Type: EventDead, ID: r.ID, Kind: r.Kind, Attempt: attempts, Err: lastErr})
	s.log(ctx, slog.LevelError, "reminder failed, retries spent", r, attempts, lastErr)
	return fmt.Errorf("%w: reminder %q (kind %q), attempt %d of %d: %w",
		ErrHandlerFailed, r.ID, r.Kind, attempts, attempts, lastErr)
}

// attempt makes one delivery and reports its outcome; a panic becomes an
// error, so that a buggy handler is retried like a failing one.
func (s *EagerScheduler) attempt(ctx context.Context, d Delivery) (err error) {
	start := s.opts.clock()
	s.observe(Event{Type: EventDelivered, ID: d.ID, Kind: d.Kind, Attempt: d.Attempt, Lateness: start.Sub(d.DueAt)})
	defer func() {
		if v := recover(); v != nil {
			err = eagerPanicError(v)
			s.opts.logger.LogAttrs(ctx, slog.LevelError, "reminder handler panicked",
				slog.String("task_name", d.Kind), slog.String("reminder_id", d.ID),
				slog.Int("attempt", d.Attempt), slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
		}
		// A WithClock clock may step back; a run time is never negative.
		elapsed := max(s.opts.clock().Sub(start), 0)
		if err != nil {
			s.observe(Event{Type: EventFailed, ID: d.ID, Kind: d.Kind, Attempt: d.Attempt, Duration: elapsed, Err: err})
			s.log(ctx, slog.LevelWarn, "reminder attempt failed", d.Reminder, d.Attempt, err)
			return
		}
		s.observe(Event{Type: EventSucceeded, ID: d.ID, Kind: d.Kind, Attempt: d.Attempt, Duration: elapsed})
		s.log(ctx, slog.LevelDebug, "reminder handled", d.Reminder, d.Attempt, nil)
	}()
	return safeError(s.h.HandleReminder(ctx, d))
}

// eagerPanicError turns a recovered value into an error, wrapping it when
// it is one so that errors.Is still sees what the handler panicked with.
func eagerPanicError(v any) error {
	if err, ok := v.(error); ok {
		return fmt.Errorf("reminders: handler panicked: %w", err)
	}
	return fmt.Errorf("reminders: handler panicked: %v", v)
}

// wait sleeps before retry n (from 1) for eagerDelay. It returns ctx's
// error if ctx has ended or ends first.
func (s *EagerScheduler) wait(ctx context.Context, n int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d := eagerDelay(s.opts, n)
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// eagerDelay is the pause before retry n (from 1): none unless WithBackoff
// was given, then backoffDelay, as on the Redis backend.
func eagerDelay(o *options, n int) time.Duration {
	if !o.backoffSet {
		return 0
	}
	return backoffDelay(o, n)
}

// Cancel always returns an error wrapping ErrNotFound: an eager scheduler
// has handled every reminder before Schedule returned, so none is ever
// pending. For a malformed ID (one Schedule would refuse) the error wraps
// ErrInvalid too, as the Redis backend's does, so that code written
// against Scheduler sees ErrInvalid for bad input on either backend.
func (s *EagerScheduler) Cancel(_ context.Context, id string) error {
	if err := validName("ID", id); err != nil {
		return fmt.Errorf("%w (%w: the eager scheduler keeps nothing pending)", err, ErrNotFound)
	}
	return fmt.Errorf("%w: reminder %q (the eager scheduler keeps nothing pending)", ErrNotFound, id)
}

func (s *EagerScheduler) observe(e Event) {
	if s.opts.observer != nil {
		s.opts.observer.ObserveReminder(e)
	}
}

func (s *EagerScheduler) log(ctx context.Context, level slog.Level, msg string, r Reminder, attempt int, err error) {
	if !s.opts.logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("task_name", r.Kind), slog.String("reminder_id", r.ID), slog.Int("attempt", attempt),
	}
	if err != nil {
		attrs = append(attrs, slog.Any("error", err))
	}
	s.opts.logger.LogAttrs(ctx, level, msg, attrs...)
}
