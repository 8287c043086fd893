package reminders

import (
	"context"
	"fmt"
	"sync"
)

// Mux routes deliveries to handlers by Reminder.Kind. A Mux is a Handler.
// It is safe for concurrent use; handlers may be added while workers run.
// The zero value is an empty Mux, ready to use, as NewMux's is.
type Mux struct {
	mu       sync.RWMutex
	handlers map[string]Handler
}

// NewMux returns an empty Mux.
func NewMux() *Mux { return &Mux{} }

// Handle registers h for kind, replacing any handler registered before.
// It panics, as http.ServeMux does, on a kind no Reminder can have (see
// Reminder.Kind's limits) and on a nil handler, a typed nil such as
// HandlerFunc(nil) included: both are programming errors found at
// start-up, not input.
func (m *Mux) Handle(kind string, h Handler) {
	if err := validName("Mux.Handle: Kind", kind); err != nil {
		panic(err.Error())
	}
	if isNilValue(h) {
		panic("reminders: Mux.Handle needs a non-nil handler")
	}
	m.mu.Lock()
	if m.handlers == nil {
		m.handlers = make(map[string]Handler)
	}
	m.handlers[kind] = h
	m.mu.Unlock()
}

// HandleFunc registers f for kind.
func (m *Mux) HandleFunc(kind string, f func(ctx context.Context, d Delivery) error) {
	if f == nil {
		panic("reminders: Mux.HandleFunc needs a function")
	}
	m.Handle(kind, HandlerFunc(f))
}

// HandleReminder calls the handler registered for d.Kind, or returns an
// error wrapping ErrNoHandler.
func (m *Mux) HandleReminder(ctx context.Context, d Delivery) error {
	m.mu.RLock()
	h := m.handlers[d.Kind]
	m.mu.RUnlock()
	if h == nil {
		return fmt.Errorf("%w %q", ErrNoHandler, d.Kind)
	}
	return h.HandleReminder(ctx, d)
}
