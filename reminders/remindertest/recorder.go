package remindertest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// recorder is a Handler that records every delivery and when it arrived
// (local clock), then answers with fn (nil: success).
type recorder struct {
	fn func(ctx context.Context, d reminders.Delivery) error

	mu    sync.Mutex
	calls []reminders.Delivery
	times []time.Time
}

func newRecorder(fn func(ctx context.Context, d reminders.Delivery) error) *recorder {
	return &recorder{fn: fn}
}

func (r *recorder) HandleReminder(ctx context.Context, d reminders.Delivery) error {
	now := time.Now()
	r.mu.Lock()
	r.calls = append(r.calls, d)
	r.times = append(r.times, now)
	r.mu.Unlock()
	if r.fn == nil {
		return nil
	}
	return r.fn(ctx, d)
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// at is when delivery i arrived.
func (r *recorder) at(i int) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.times[i]
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.calls))
	for i, d := range r.calls {
		out[i] = d.ID
	}
	return out
}

// waitN waits (bounded) until at least n deliveries arrived and returns
// all deliveries so far, in arrival order.
func (r *recorder) waitN(t *testing.T, n int) []reminders.Delivery {
	t.Helper()
	require.Eventually(t, func() bool { return r.len() >= n }, waitFor, poll,
		"waiting for %d deliveries", n)
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]reminders.Delivery(nil), r.calls...)
}

// eventLog is an Observer that keeps every event.
type eventLog struct {
	mu     sync.Mutex
	events []reminders.Event
}

func (l *eventLog) ObserveReminder(e reminders.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) all() []reminders.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]reminders.Event(nil), l.events...)
}

// types lists the types of the events of one reminder, in order.
func (l *eventLog) types(id string) []reminders.EventType {
	var out []reminders.EventType
	for _, e := range l.all() {
		if e.ID == id {
			out = append(out, e.Type)
		}
	}
	return out
}

func attempts(ds []reminders.Delivery) []int {
	out := make([]int, len(ds))
	for i, d := range ds {
		out[i] = d.Attempt
	}
	return out
}
