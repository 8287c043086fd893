package reminders

import "errors"

// Sentinel errors. Errors returned by this package wrap one of them; match
// with errors.Is.
var (
	// ErrInvalid reports bad input: the message names the field. Nothing
	// was written.
	ErrInvalid = errors.New("reminders: invalid")
	// ErrNotFound reports that no pending or in-flight reminder (or, for
	// Requeue, no dead reminder) has the ID.
	ErrNotFound = errors.New("reminders: not found")
	// ErrUnavailable reports that the backend failed or the context ended
	// before it answered.
	ErrUnavailable = errors.New("reminders: unavailable")
	// ErrNoHandler is wrapped by the error a Mux returns for a Kind with no
	// handler. Workers treat it as a failed attempt, not a dropped
	// reminder, so that during a rolling deploy a reminder whose handler
	// only the new version has is retried until a new worker takes it.
	ErrNoHandler = errors.New("reminders: no handler for kind")
)
