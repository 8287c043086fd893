package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/metrics"
	"github.com/sytefy/kit/reminders"
)

// steppingClock returns a clock that moves 10ms forward on every reading,
// so each eager attempt (one reading at its start, one at its end) lasts
// exactly 10ms.
func steppingClock(start time.Time) func() time.Time {
	var mu sync.Mutex
	now := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(10 * time.Millisecond)
		return now
	}
}

// A known workload on the eager scheduler, scraped: every counter and
// histogram count is exact.
func TestRemindersEagerWorkload(t *testing.T) {
	m, err := metrics.NewReminders(metrics.WithKinds("mail", "sms", "push"))
	require.NoError(t, err)

	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	var smsCalls atomic.Int32
	mux := reminders.NewMux()
	mux.HandleFunc("mail", func(context.Context, reminders.Delivery) error { return nil })
	mux.HandleFunc("sms", func(context.Context, reminders.Delivery) error {
		if smsCalls.Add(1) <= 2 {
			return errors.New("gateway busy") // fails twice, then succeeds
		}
		return nil
	})
	mux.HandleFunc("push", func(context.Context, reminders.Delivery) error { panic("push bug") })
	s, err := reminders.NewEagerScheduler(mux, reminders.WithObserver(m),
		reminders.WithMaxRetries(2), reminders.WithClock(steppingClock(t0)))
	require.NoError(t, err)

	ctx := context.Background()
	late := t0.Add(-3 * time.Second) // every attempt starts 3s and a few 10ms late
	require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "m1", Kind: "mail", DueAt: late}))
	require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "m2", Kind: "mail", DueAt: t0.Add(time.Hour)})) // early: lateness 0
	require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "s1", Kind: "sms", DueAt: late}))
	require.Error(t, s.Schedule(ctx, reminders.Reminder{ID: "p1", Kind: "push", DueAt: late}))
	require.ErrorIs(t, s.Schedule(ctx, reminders.Reminder{ID: "f1", Kind: "fax", DueAt: late}), reminders.ErrNoHandler)
	require.ErrorIs(t, s.Schedule(ctx, reminders.Reminder{ID: "", Kind: "mail", DueAt: late}), reminders.ErrInvalid)

	want := `
# HELP kit_reminders_scheduled_total Reminders stored by Schedule, ScheduleMany or Requeue.
# TYPE kit_reminders_scheduled_total counter
kit_reminders_scheduled_total{kind="fax"} 1
kit_reminders_scheduled_total{kind="mail"} 2
kit_reminders_scheduled_total{kind="push"} 1
kit_reminders_scheduled_total{kind="sms"} 1
# HELP kit_reminders_delivered_total Handler calls started, one per attempt.
# TYPE kit_reminders_delivered_total counter
kit_reminders_delivered_total{kind="fax"} 3
kit_reminders_delivered_total{kind="mail"} 2
kit_reminders_delivered_total{kind="push"} 3
kit_reminders_delivered_total{kind="sms"} 3
# HELP kit_reminders_succeeded_total Handler calls that returned nil.
# TYPE kit_reminders_succeeded_total counter
kit_reminders_succeeded_total{kind="mail"} 2
kit_reminders_succeeded_total{kind="push"} 0
kit_reminders_succeeded_total{kind="sms"} 1
# HELP kit_reminders_failed_total Handler calls that returned an error or panicked.
# TYPE kit_reminders_failed_total counter
kit_reminders_failed_total{kind="fax"} 3
kit_reminders_failed_total{kind="mail"} 0
kit_reminders_failed_total{kind="push"} 3
kit_reminders_failed_total{kind="sms"} 2
# HELP kit_reminders_retried_total Failed attempts put back to be retried after a backoff.
# TYPE kit_reminders_retried_total counter
kit_reminders_retried_total{kind="fax"} 2
kit_reminders_retried_total{kind="mail"} 0
kit_reminders_retried_total{kind="push"} 2
kit_reminders_retried_total{kind="sms"} 2
# HELP kit_reminders_dead_lettered_total Reminders moved to the dead-letter set.
# TYPE kit_reminders_dead_lettered_total counter
kit_reminders_dead_lettered_total{kind="fax"} 1
kit_reminders_dead_lettered_total{kind="mail"} 0
kit_reminders_dead_lettered_total{kind="push"} 1
kit_reminders_dead_lettered_total{kind="sms"} 0
`
	assert.NoError(t, testutil.CollectAndCompare(m, strings.NewReader(want),
		"kit_reminders_scheduled_total", "kit_reminders_delivered_total", "kit_reminders_succeeded_total",
		"kit_reminders_failed_total", "kit_reminders_retried_total", "kit_reminders_dead_lettered_total"))

	lateness := histogram(t, m, "kit_reminders_lateness_seconds", "")
	assert.EqualValues(t, 11, lateness.GetSampleCount())
	assert.Equal(t, map[float64]uint64{0.001: 1, 2.5: 1, 5: 11}, cumulative(lateness, 0.001, 2.5, 5),
		"one early delivery counted as 0, ten about 3s late")

	for kind, attempts := range map[string]uint64{"mail": 2, "sms": 3, "push": 3, "fax": 3} {
		d := histogram(t, m, "kit_reminders_handler_duration_seconds", kind)
		assert.Equal(t, attempts, d.GetSampleCount(), kind)
		assert.InDelta(t, 0.01*float64(attempts), d.GetSampleSum(), 1e-9, kind)
		assert.Equal(t, map[float64]uint64{0.005: 0, 0.01: attempts}, cumulative(d, 0.005, 0.01), kind)
	}
}

// Many goroutines schedule at once through one collector; the counts stay
// exact.
func TestRemindersEagerConcurrentWorkload(t *testing.T) {
	m, err := metrics.NewReminders()
	require.NoError(t, err)
	var calls atomic.Int64
	s, err := reminders.NewEagerScheduler(reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
		if calls.Add(1)%2 == 0 && d.Attempt == 1 {
			return errors.New("flaky")
		}
		return nil
	}), reminders.WithObserver(m))
	require.NoError(t, err)

	const goroutines, each = 8, 100
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := reminders.Reminder{ID: fmt.Sprintf("r%d-%d", g, i), Kind: "mail", DueAt: time.Now()}
				assert.NoError(t, s.Schedule(context.Background(), r))
			}
		}()
	}
	wg.Wait()

	const n = goroutines * each
	retried := counterValue(t, m, "kit_reminders_retried_total", "mail")
	assert.EqualValues(t, n, counterValue(t, m, "kit_reminders_scheduled_total", "mail"))
	assert.EqualValues(t, n, counterValue(t, m, "kit_reminders_succeeded_total", "mail"))
	assert.EqualValues(t, calls.Load(), counterValue(t, m, "kit_reminders_delivered_total", "mail"))
	assert.EqualValues(t, calls.Load()-n, retried, "every extra call was a retry")
	assert.Equal(t, retried, counterValue(t, m, "kit_reminders_failed_total", "mail"))
	assert.Positive(t, retried, "the workload must have failed some attempts")
}
