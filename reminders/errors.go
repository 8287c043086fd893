package reminders

import "errors"

// Sentinel errors. Every error a function or method of this package
// returns wraps one of them; match with errors.Is. The one exception is a
// Handler's own error, which a Mux returns as its handler returned it
// (EagerScheduler.Schedule wraps it in ErrHandlerFailed).
var (
	// ErrInvalid reports bad input or bad use (an invalid option, a nil
	// argument, Register on a running Periodic): the message names the
	// field or the call. Nothing was written.
	ErrInvalid = errors.New("reminders: invalid")
	// ErrNotFound reports that no pending or in-flight reminder (or, for
	// Requeue, no dead reminder) has the ID.
	ErrNotFound = errors.New("reminders: not found")
	// ErrUnavailable reports that the backend failed or the context ended
	// before the call finished; the error also wraps the cause (a Redis
	// error, context.DeadlineExceeded, ...).
	ErrUnavailable = errors.New("reminders: unavailable")
	// ErrHandlerFailed reports, from EagerScheduler.Schedule, that every
	// attempt failed: the retries are spent, and a Redis scheduler would
	// have moved the reminder to the dead set. The error also wraps the
	// last attempt's error.
	ErrHandlerFailed = errors.New("reminders: handler failed")
	// ErrNoHandler is wrapped by the error a Mux returns for a Kind with no
	// handler. Workers treat it as a failed attempt, not a dropped
	// reminder, so that during a rolling deploy a reminder whose handler
	// only the new version has is retried until a new worker takes it.
	ErrNoHandler = errors.New("reminders: no handler for kind")
)
