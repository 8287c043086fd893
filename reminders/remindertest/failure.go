package remindertest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// fastRetries keeps the retry tests short on every backend.
var fastRetries = reminders.WithBackoff(time.Millisecond, 5*time.Millisecond)

// retriesNumberAttempts: a handler failing k times then succeeding sees
// attempts 1..k+1, and nothing after the success.
func (s suite) retriesNumberAttempts(t *testing.T) {
	const failures = 2
	rec := newRecorder(func(_ context.Context, d reminders.Delivery) error {
		if d.Attempt <= failures {
			return errors.New("transient")
		}
		return nil
	})
	sch := s.newScheduler(t, rec, reminders.WithMaxRetries(3), fastRetries)
	s.schedule(t, sch, reminders.Reminder{ID: "flaky", Kind: "k", DueAt: time.Now()})
	assert.Equal(t, []int{1, 2, 3}, attempts(rec.waitN(t, failures+1)))
	s.assertStays(t, rec, failures+1)
}

// retryGetsStoredPayload: a retry is handed the payload as scheduled, not
// as a failed attempt left it (a handler that decodes in place, say), and
// the caller's slice is never written.
func (s suite) retryGetsStoredPayload(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	rec := newRecorder(func(_ context.Context, d reminders.Delivery) error {
		mu.Lock()
		seen = append(seen, string(d.Payload))
		mu.Unlock()
		if d.Attempt == 1 {
			d.Payload[0] = 'X'
			return errors.New("transient")
		}
		return nil
	})
	sch := s.newScheduler(t, rec, reminders.WithMaxRetries(1), fastRetries)
	payload := []byte("hello")
	s.schedule(t, sch, reminders.Reminder{ID: "mutated", Kind: "k", DueAt: time.Now(), Payload: payload})
	rec.waitN(t, 2)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"hello", "hello"}, seen)
	assert.Equal(t, "hello", string(payload), "the caller's payload")
}

// retriesSpent: a handler that always fails is called exactly
// maxRetries+1 times.
func (s suite) retriesSpent(t *testing.T) {
	const maxRetries = 2
	boom := errors.New("permanent")
	rec := newRecorder(func(context.Context, reminders.Delivery) error { return boom })
	sch := s.newScheduler(t, rec, reminders.WithMaxRetries(maxRetries), fastRetries)
	err := s.scheduleFailing(t, sch, reminders.Reminder{ID: "doomed", Kind: "k", DueAt: time.Now()})
	if s.caps.Synchronous {
		assert.ErrorIs(t, err, boom, "the final error wraps the handler's")
	}
	assert.Equal(t, []int{1, 2, 3}, attempts(rec.waitN(t, maxRetries+1)))
	s.assertStays(t, rec, maxRetries+1)
}

// panicIsFailedAttempt: a panic is retried like an error, and the backend
// (worker) survives it.
func (s suite) panicIsFailedAttempt(t *testing.T) {
	rec := newRecorder(func(_ context.Context, d reminders.Delivery) error {
		if d.ID == "panics" && d.Attempt == 1 {
			panic("handler bug")
		}
		return nil
	})
	sch := s.newScheduler(t, rec, reminders.WithMaxRetries(2), fastRetries)
	s.schedule(t, sch, reminders.Reminder{ID: "panics", Kind: "k", DueAt: time.Now()})
	assert.Equal(t, []int{1, 2}, attempts(rec.waitN(t, 2)), "a panic is a failed attempt, retried")

	s.schedule(t, sch, reminders.Reminder{ID: "after", Kind: "k", DueAt: time.Now()})
	assert.Equal(t, "after", rec.waitN(t, 3)[2].ID, "still delivering after a panic")
	s.assertStays(t, rec, 3)
}

// unknownKindIsFailedAttempt: a Mux without a handler for the Kind fails
// the attempt with ErrNoHandler; it is retried (so that a rolling deploy
// heals), not dropped.
func (s suite) unknownKindIsFailedAttempt(t *testing.T) {
	mux := reminders.NewMux()
	mux.HandleFunc("known", func(context.Context, reminders.Delivery) error { return nil })
	var mu sync.Mutex
	var errs []error
	rec := newRecorder(func(ctx context.Context, d reminders.Delivery) error {
		err := mux.HandleReminder(ctx, d)
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		return err
	})
	sch := s.newScheduler(t, rec, reminders.WithMaxRetries(1), fastRetries)
	err := s.scheduleFailing(t, sch, reminders.Reminder{ID: "unrouted", Kind: "unknown", DueAt: time.Now()})
	if s.caps.Synchronous {
		assert.ErrorIs(t, err, reminders.ErrNoHandler)
	}
	assert.Equal(t, []int{1, 2}, attempts(rec.waitN(t, 2)), "an unknown kind is retried like any failure")
	s.assertStays(t, rec, 2)
	mu.Lock()
	defer mu.Unlock()
	for _, err := range errs {
		assert.ErrorIs(t, err, reminders.ErrNoHandler)
		assert.ErrorContains(t, err, `"unknown"`)
	}
}

// observerEvents: the Observer hears every state change, the same ones on
// every backend, so that metrics mean the same. Only the counts are
// compared: a worker may deliver before Schedule has reported, and may
// report a retry after the next attempt began.
func (s suite) observerEvents(t *testing.T) {
	obs := &eventLog{}
	rec := newRecorder(func(_ context.Context, d reminders.Delivery) error {
		if d.ID == "fails" {
			return errors.New("no")
		}
		return nil
	})
	sch := s.newScheduler(t, rec, reminders.WithObserver(obs), reminders.WithMaxRetries(1), fastRetries)
	s.schedule(t, sch, reminders.Reminder{ID: "works", Kind: "k", DueAt: time.Now()})
	s.scheduleFailing(t, sch, reminders.Reminder{ID: "fails", Kind: "k", DueAt: time.Now()})
	rec.waitN(t, 3)

	want := map[string]map[reminders.EventType]int{
		"works": {reminders.EventScheduled: 1, reminders.EventDelivered: 1, reminders.EventSucceeded: 1},
		"fails": {
			reminders.EventScheduled: 1, reminders.EventDelivered: 2, reminders.EventFailed: 2,
			reminders.EventRetried: 1, reminders.EventDead: 1,
		},
	}
	counts := func(id string) map[reminders.EventType]int {
		c := make(map[reminders.EventType]int)
		for _, typ := range obs.types(id) {
			c[typ]++
		}
		return c
	}
	total := func(c map[reminders.EventType]int) (n int) {
		for _, k := range c {
			n += k
		}
		return n
	}
	require.Eventually(t, func() bool {
		return total(counts("works")) >= total(want["works"]) && total(counts("fails")) >= total(want["fails"])
	}, waitFor, poll, "events: %+v", obs.all())
	if !s.caps.Synchronous {
		time.Sleep(quiet) // no event may follow the last one
	}
	for id, c := range want {
		assert.Equal(t, c, counts(id), "events of %q", id)
	}
	for _, e := range obs.all() {
		assert.Equal(t, "k", e.Kind, "event %+v", e)
		switch e.Type {
		case reminders.EventDelivered, reminders.EventSucceeded, reminders.EventFailed, reminders.EventDead:
			assert.GreaterOrEqual(t, e.Attempt, 1, "event %+v", e)
		}
		if e.Type == reminders.EventFailed || e.Type == reminders.EventDead {
			assert.Error(t, e.Err, "event %+v", e)
		}
	}
}
