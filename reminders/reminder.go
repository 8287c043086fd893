package reminders

import (
	"context"
	"time"
)

// Reminder is one delayed job: deliver Payload to the handler for Kind at
// DueAt.
//
// ID is the idempotency key: scheduling a Reminder whose ID is already
// stored replaces it, whether it is pending, in flight or dead (new Kind,
// DueAt and Payload; attempts start again at 1). Derive it from the thing reminded of ("appointment:42"), so that a
// retried request or N instances scheduling the same thing store one
// reminder.
type Reminder struct {
	// ID is 1..256 bytes of valid UTF-8 with no control characters.
	ID string
	// Kind selects the handler, for example "appointments.send_reminder";
	// 1..256 bytes of valid UTF-8 with no control characters.
	Kind string
	// DueAt is when the reminder becomes deliverable. It must not be zero,
	// and must lie within ±(2^53-1) ms of 1970 (about year ±287,000); a time
	// in the past means "as soon as possible". It is kept in Unix
	// milliseconds, rounded up, so a reminder is never delivered early.
	DueAt time.Time
	// Payload is opaque to the library (JSON by convention) and at most the
	// scheduler's maximum payload size (WithMaxPayload, default 64 KiB). An
	// empty payload is delivered as nil.
	Payload []byte
}

// Delivery is one attempt to handle a Reminder. Its Payload belongs to
// the handler, on every backend: writing into it changes neither the
// caller's slice given to Schedule nor what a later attempt is handed.
type Delivery struct {
	Reminder
	// Attempt is 1 on the first try after Schedule, a reschedule or Requeue;
	// each retry, and each redelivery after an expired lease (a crashed
	// worker), adds 1. A reminder released by a worker that shut down
	// while its handler ran is delivered again with the same Attempt, so
	// (ID, Attempt) does not name one delivery.
	Attempt int
}

// Handler handles delivered reminders. Delivery is at least once: a handler
// must be idempotent (use d.ID as the idempotency key of what it sends).
// Returning nil acknowledges the reminder; an error (or a panic) is a failed
// attempt that is retried with backoff until the retries are spent, then
// dead-lettered. The context is cancelled when the worker shuts down past
// its shutdown timeout, and when the attempt stops counting: the reminder
// was rescheduled or cancelled while the handler ran, or the worker lost
// its lease (the Redis worker notices within a third of the lease).
type Handler interface {
	// HandleReminder handles one attempt: nil acknowledges the reminder,
	// an error (or a panic) fails the attempt.
	HandleReminder(ctx context.Context, d Delivery) error
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, d Delivery) error

// HandleReminder calls f(ctx, d).
func (f HandlerFunc) HandleReminder(ctx context.Context, d Delivery) error { return f(ctx, d) }

// Scheduler stores reminders for later delivery. Implementations are safe
// for concurrent use.
type Scheduler interface {
	// Schedule stores r, replacing any stored reminder with the same ID
	// (pending, in flight or dead). It returns an error wrapping
	// ErrInvalid for bad input (nothing is written) and ErrUnavailable
	// when the backend fails or ctx ends first.
	Schedule(ctx context.Context, r Reminder) error
	// Cancel removes a pending or in-flight reminder: no further attempt
	// happens. An attempt already claimed by a worker is in flight, even if
	// its handler has not started: it may still start after Cancel
	// returns, and its outcome is ignored. It returns an error wrapping
	// ErrNotFound when the ID is neither pending nor in flight, ErrInvalid
	// for an ID Schedule would refuse (empty, too long, not UTF-8, control
	// characters), and ErrUnavailable when the backend fails or ctx ends
	// first.
	Cancel(ctx context.Context, id string) error
}
