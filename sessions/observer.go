package sessions

// EventType names what happened in a store.
type EventType string

// Event types, one per Observer call.
const (
	// EventRemembered: Remember stored a session.
	EventRemembered EventType = "remembered"
	// EventRotated: Rotate created a successor. A rotation answered from
	// the grace window creates nothing and sends no event.
	EventRotated EventType = "rotated"
	// EventReuseDetected: Rotate was given an ID that had already been
	// rotated; Count sessions of its family were active and are revoked.
	EventReuseDetected EventType = "reuse_detected"
	// EventRevoked: Revoke succeeded; Count is the number of active
	// sessions it ended: 1 or 0 for a session ID, the family's for a
	// rotated one (see Store.Revoke).
	EventRevoked EventType = "revoked"
	// EventRevokedAll: RevokeAllForUser revoked Count active sessions.
	EventRevokedAll EventType = "revoked_all"
	// EventEvicted: Remember evicted Count sessions (at least 1), the
	// user's that expire first, to keep the user within
	// WithMaxSessionsPerUser. It follows that call's EventRemembered; a
	// Remember that evicts nothing sends none.
	EventEvicted EventType = "evicted"
	// EventBackendError: an operation failed with ErrUnavailable (the
	// backend failed or the context ended): the store failed closed. Err is
	// the returned error.
	EventBackendError EventType = "backend_error"
)

// Event describes one thing that happened in a store. It carries no
// session or user ID, so metrics built from it hold no secrets.
type Event struct {
	// Type says what happened.
	Type EventType
	// Count is the number of sessions revoked, for EventRevoked,
	// EventRevokedAll and EventReuseDetected, or evicted, for
	// EventEvicted; 0 otherwise.
	Count int
	// Err is the error returned, for EventBackendError.
	Err error
}

// Observer receives an Event for every state change and every backend
// failure, for metrics. ObserveSession is called synchronously, after the
// operation, on the caller's goroutine: it must be fast and safe for
// concurrent use.
type Observer interface {
	// ObserveSession receives one event; it returns nothing, so an
	// observer cannot fail the operation it observes.
	ObserveSession(e Event)
}

// ObserverFunc adapts a function to an Observer.
type ObserverFunc func(e Event)

// ObserveSession calls f(e).
func (f ObserverFunc) ObserveSession(e Event) { f(e) }

type nopObserver struct{}

func (nopObserver) ObserveSession(Event) {}
