package reminders

import "time"

// EventType names what happened to a reminder.
type EventType string

// Event types, one per Observer call.
const (
	// EventScheduled: Schedule, ScheduleMany (once per reminder) or Requeue
	// stored a reminder.
	EventScheduled EventType = "scheduled"
	// EventDelivered: a handler is about to be called; Lateness is set.
	EventDelivered EventType = "delivered"
	// EventSucceeded: the handler returned nil; Duration is set.
	EventSucceeded EventType = "succeeded"
	// EventFailed: the handler returned an error or panicked; Duration and
	// Err are set. EventRetried or EventDead follows, unless the attempt
	// stopped counting while it ran (the reminder was rescheduled,
	// cancelled or released, or its lease expired: Redis scheduler).
	EventFailed EventType = "failed"
	// EventRetried: a failed attempt was put back with backoff.
	EventRetried EventType = "retried"
	// EventDead: the reminder went to the dead-letter set (retries spent,
	// a stored record that cannot be decoded, or a lease that expired on
	// the last attempt); Err holds the reason.
	EventDead EventType = "dead"
)

// Event describes one thing that happened to one reminder.
type Event struct {
	// Type says what happened.
	Type EventType
	// ID is the reminder's ID (Reminder.ID).
	ID string
	// Kind is the reminder's Kind (Reminder.Kind); empty on EventDead for
	// a stored record that cannot be decoded.
	Kind string
	// Attempt is the attempt the event belongs to, from 1 (as in
	// Delivery.Attempt): 1 on EventScheduled; on EventDead, the last
	// attempt made, or 0 for a stored record that cannot be decoded.
	Attempt int
	// Shard is the Redis shard index (0 for the eager scheduler).
	Shard int
	// Lateness is handler start minus DueAt, on EventDelivered.
	Lateness time.Duration
	// Duration is how long the handler ran, on EventSucceeded and
	// EventFailed; never negative (the eager scheduler reads it from its
	// WithClock clock, and counts a clock that stepped back as zero).
	Duration time.Duration
	// Err is the handler's error on EventFailed, the reason on EventDead.
	Err error
}

// Observer receives events, for metrics (the Prometheus collector in
// kit/metrics is one) or tracing. ObserveReminder is called synchronously
// on the goroutine that made the change (a worker's, Schedule's caller's,
// or one of those ScheduleMany runs its shards on; for a Redis Schedule
// whose caller returned before the reply came, one of the scheduler's
// own): it must be fast and safe for concurrent use. It may call the
// scheduler. A panic in it is raised on the caller's goroutine of
// Schedule, ScheduleMany or Requeue (the reminder is stored); on a
// worker's goroutine, or on one of the scheduler's own, it is logged at
// Error, and the reminder is handled as if the observer had
// returned.
type Observer interface {
	// ObserveReminder receives one event; it returns nothing, so an
	// observer cannot fail the operation it observes.
	ObserveReminder(e Event)
}

// ObserverFunc adapts a function to an Observer.
type ObserverFunc func(e Event)

// ObserveReminder calls f(e).
func (f ObserverFunc) ObserveReminder(e Event) { f(e) }
