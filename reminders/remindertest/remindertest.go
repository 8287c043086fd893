// Package remindertest is the conformance suite for reminders.Scheduler
// implementations: the behaviour every backend shares, written once and
// run on each (the eager scheduler and the Redis scheduler run it in their
// tests), so that backends cannot drift apart.
//
// A backend's own tests call Run with a factory:
//
//	func TestConformance(t *testing.T) {
//		remindertest.Run(t, func(t *testing.T, h reminders.Handler, opts ...reminders.Option) reminders.Scheduler {
//			s, err := reminders.NewRedisScheduler(client, opts...)
//			require.NoError(t, err)
//			// start a worker delivering to h; stop it in t.Cleanup
//			return s
//		})
//	}
//
// What only one kind of backend can promise is switched by Capabilities:
// a backend that stores reminders never delivers one before its DueAt and
// delivers only the latest version of a re-scheduled ID; the eager
// scheduler runs the handler inside Schedule, at once, every time.
package remindertest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// NewScheduler returns a fresh scheduler (with its own keys, if it stores
// any) that delivers to h, configured with opts. When the backend needs a
// worker to deliver, the factory starts one and stops it in t.Cleanup. It
// is called once per subtest, from parallel subtests.
type NewScheduler func(t *testing.T, h reminders.Handler, opts ...reminders.Option) reminders.Scheduler

// Capabilities describe how a backend delivers, where backends
// legitimately differ. The zero value describes a backend that stores
// reminders and delivers them from workers (the Redis scheduler).
type Capabilities struct {
	// Synchronous reports that Schedule runs the handler, retries
	// included, before it returns, whatever the DueAt (the eager
	// scheduler). The suite then checks that Schedule returns the
	// handler's final error, that a future reminder is delivered at once
	// and that re-scheduling an ID delivers it again, instead of checking
	// that nothing is delivered before DueAt and that only the latest
	// version of a pending reminder is delivered.
	Synchronous bool
}

// Timing of the suite. Waits are bounded and generous (race detector,
// three-master cluster, two cores); no check depends on how fast a backend
// is, only on what it does.
const (
	// waitFor bounds how long a delivery may take to show up.
	waitFor = 10 * time.Second
	// poll is how often a pending check is re-evaluated.
	poll = 5 * time.Millisecond
	// quiet is how long the suite watches for a delivery that must not
	// happen (a retry past the limit, a replaced version).
	quiet = 400 * time.Millisecond
)

// Run runs the suite for a backend that stores reminders and delivers them
// from workers: Run(t, f) is RunWith(t, f, Capabilities{}).
func Run(t *testing.T, newScheduler NewScheduler) {
	t.Helper()
	RunWith(t, newScheduler, Capabilities{})
}

// RunWith runs the suite with the given capabilities. Every check is a
// parallel subtest with its own scheduler.
func RunWith(t *testing.T, newScheduler NewScheduler, caps Capabilities) {
	t.Helper()
	s := suite{newScheduler: newScheduler, caps: caps}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"DeliversFields", s.deliversFields},
		{"EmptyPayloadIsNil", s.emptyPayloadIsNil},
		{"PastDueIsDeliveredAtOnce", s.pastDueIsDeliveredAtOnce},
		{"SubMillisecondDueAtRoundsUp", s.subMillisecondDueAt},
		{"NotBeforeDueAt", s.notBeforeDueAt},
		{"RetriesNumberAttempts", s.retriesNumberAttempts},
		{"RetryGetsStoredPayload", s.retryGetsStoredPayload},
		{"RetriesSpent", s.retriesSpent},
		{"PanicIsFailedAttempt", s.panicIsFailedAttempt},
		{"UnknownKindIsFailedAttempt", s.unknownKindIsFailedAttempt},
		{"ObserverEvents", s.observerEvents},
		{"CancelUnknownIsNotFound", s.cancelUnknown},
		{"BadInput", s.badInput},
		{"ContextEnded", s.contextEnded},
		{"RescheduleReplaces", s.rescheduleReplaces},
		{"ConcurrentSchedules", s.concurrentSchedules},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t)
		})
	}
}

type suite struct {
	newScheduler NewScheduler
	caps         Capabilities
}

// schedule calls Schedule with a bounded context and requires nil, the
// result every backend gives for a valid reminder whose handler ends up
// succeeding.
func (s suite) schedule(t *testing.T, sch reminders.Scheduler, r reminders.Reminder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, sch.Schedule(ctx, r), "Schedule(%q)", r.ID)
}

// scheduleFailing schedules a reminder whose handler never succeeds: the
// eager scheduler returns the final error (returned here), a storing
// backend accepts it and returns nil.
func (s suite) scheduleFailing(t *testing.T, sch reminders.Scheduler, r reminders.Reminder) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err := sch.Schedule(ctx, r)
	if s.caps.Synchronous {
		require.Error(t, err, "eager Schedule(%q) must return the handler's final error", r.ID)
		return err
	}
	require.NoError(t, err, "Schedule(%q)", r.ID)
	return nil
}

// assertStays checks that rec ends with exactly n deliveries: a storing
// backend is watched for a while for deliveries that must not come (a
// retry past the limit, a replaced version); a synchronous one has made
// all of them before Schedule returned.
func (s suite) assertStays(t *testing.T, rec *recorder, n int) {
	t.Helper()
	if !s.caps.Synchronous {
		time.Sleep(quiet)
	}
	assert.Equal(t, n, rec.len(), "deliveries: %v", rec.ids())
}
