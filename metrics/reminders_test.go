package metrics_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/metrics"
	"github.com/sytefy/kit/reminders"
)

var errBoom = errors.New("boom")

// observe feeds events to m as a scheduler would: attempt by attempt.
func observe(m reminders.Observer, events ...reminders.Event) {
	for _, e := range events {
		m.ObserveReminder(e)
	}
}

func ev(typ reminders.EventType, kind string) reminders.Event {
	return reminders.Event{Type: typ, ID: "r1", Kind: kind, Attempt: 1}
}

func TestRemindersCountsEveryEventType(t *testing.T) {
	m, err := metrics.NewReminders()
	require.NoError(t, err)

	// "mail": one reminder that succeeds first time; one that fails,
	// is retried and succeeds. "sms": one that fails twice and dies.
	// One corrupt record is dead-lettered with no kind and no attempt.
	observe(m,
		ev(reminders.EventScheduled, "mail"),
		reminders.Event{Type: reminders.EventDelivered, Kind: "mail", Lateness: 2 * time.Millisecond},
		reminders.Event{Type: reminders.EventSucceeded, Kind: "mail", Duration: 20 * time.Millisecond},

		ev(reminders.EventScheduled, "mail"),
		reminders.Event{Type: reminders.EventDelivered, Kind: "mail", Lateness: 3 * time.Second},
		reminders.Event{Type: reminders.EventFailed, Kind: "mail", Duration: 2 * time.Second, Err: errBoom},
		ev(reminders.EventRetried, "mail"),
		reminders.Event{Type: reminders.EventDelivered, Kind: "mail", Lateness: 0},
		reminders.Event{Type: reminders.EventSucceeded, Kind: "mail", Duration: 20 * time.Millisecond},

		ev(reminders.EventScheduled, "sms"),
		reminders.Event{Type: reminders.EventDelivered, Kind: "sms", Lateness: 90 * time.Second},
		reminders.Event{Type: reminders.EventFailed, Kind: "sms", Duration: 70 * time.Second, Err: errBoom},
		ev(reminders.EventRetried, "sms"),
		reminders.Event{Type: reminders.EventDelivered, Kind: "sms", Lateness: -time.Second},
		reminders.Event{Type: reminders.EventFailed, Kind: "sms", Duration: 4 * time.Millisecond, Err: errBoom},
		reminders.Event{Type: reminders.EventDead, Kind: "sms", Err: errBoom},

		reminders.Event{Type: reminders.EventDead, Err: errors.New("corrupt")},
		reminders.Event{Type: "from-the-future", Kind: "mail"},
	)

	want := `
# HELP kit_reminders_scheduled_total Reminders stored by Schedule, ScheduleMany or Requeue.
# TYPE kit_reminders_scheduled_total counter
kit_reminders_scheduled_total{kind="mail"} 2
kit_reminders_scheduled_total{kind="sms"} 1
# HELP kit_reminders_delivered_total Handler calls started, one per attempt.
# TYPE kit_reminders_delivered_total counter
kit_reminders_delivered_total{kind="mail"} 3
kit_reminders_delivered_total{kind="sms"} 2
# HELP kit_reminders_succeeded_total Handler calls that returned nil.
# TYPE kit_reminders_succeeded_total counter
kit_reminders_succeeded_total{kind="mail"} 2
# HELP kit_reminders_failed_total Handler calls that returned an error or panicked.
# TYPE kit_reminders_failed_total counter
kit_reminders_failed_total{kind="mail"} 1
kit_reminders_failed_total{kind="sms"} 2
# HELP kit_reminders_retried_total Failed attempts put back to be retried after a backoff.
# TYPE kit_reminders_retried_total counter
kit_reminders_retried_total{kind="mail"} 1
kit_reminders_retried_total{kind="sms"} 1
# HELP kit_reminders_dead_lettered_total Reminders moved to the dead-letter set.
# TYPE kit_reminders_dead_lettered_total counter
kit_reminders_dead_lettered_total{kind=""} 1
kit_reminders_dead_lettered_total{kind="sms"} 1
# HELP kit_reminders_lateness_seconds Handler start minus the reminder's due time, in seconds (early starts count as 0).
# TYPE kit_reminders_lateness_seconds histogram
kit_reminders_lateness_seconds_bucket{le="0.001"} 2
kit_reminders_lateness_seconds_bucket{le="0.0025"} 3
kit_reminders_lateness_seconds_bucket{le="0.005"} 3
kit_reminders_lateness_seconds_bucket{le="0.01"} 3
kit_reminders_lateness_seconds_bucket{le="0.025"} 3
kit_reminders_lateness_seconds_bucket{le="0.05"} 3
kit_reminders_lateness_seconds_bucket{le="0.1"} 3
kit_reminders_lateness_seconds_bucket{le="0.25"} 3
kit_reminders_lateness_seconds_bucket{le="0.5"} 3
kit_reminders_lateness_seconds_bucket{le="1"} 3
kit_reminders_lateness_seconds_bucket{le="2.5"} 3
kit_reminders_lateness_seconds_bucket{le="5"} 4
kit_reminders_lateness_seconds_bucket{le="10"} 4
kit_reminders_lateness_seconds_bucket{le="30"} 4
kit_reminders_lateness_seconds_bucket{le="60"} 4
kit_reminders_lateness_seconds_bucket{le="+Inf"} 5
kit_reminders_lateness_seconds_sum 93.002
kit_reminders_lateness_seconds_count 5
`
	assert.NoError(t, testutil.CollectAndCompare(m, strings.NewReader(want),
		"kit_reminders_scheduled_total", "kit_reminders_delivered_total", "kit_reminders_succeeded_total",
		"kit_reminders_failed_total", "kit_reminders_retried_total", "kit_reminders_dead_lettered_total",
		"kit_reminders_lateness_seconds"))

	mail := histogram(t, m, "kit_reminders_handler_duration_seconds", "mail")
	assert.EqualValues(t, 3, mail.GetSampleCount())
	assert.InDelta(t, 2.04, mail.GetSampleSum(), 1e-9)
	assert.Equal(t, map[float64]uint64{0.025: 2, 1: 2, 2.5: 3, 60: 3}, cumulative(mail, 0.025, 1, 2.5, 60))
	sms := histogram(t, m, "kit_reminders_handler_duration_seconds", "sms")
	assert.EqualValues(t, 2, sms.GetSampleCount())
	assert.Equal(t, map[float64]uint64{0.005: 1, 60: 1}, cumulative(sms, 0.005, 60), "70s is above the last bound")
}

// A negative Duration (an observer's own event) is recorded as zero, so
// that the histogram's _sum never shrinks.
func TestRemindersNegativeDurationCountsAsZero(t *testing.T) {
	m, err := metrics.NewReminders()
	require.NoError(t, err)
	observe(m,
		reminders.Event{Type: reminders.EventSucceeded, Kind: "mail", Duration: 2 * time.Second},
		reminders.Event{Type: reminders.EventSucceeded, Kind: "mail", Duration: -time.Hour},
		reminders.Event{Type: reminders.EventFailed, Kind: "mail", Duration: -time.Second, Err: errBoom},
	)
	h := histogram(t, m, "kit_reminders_handler_duration_seconds", "mail")
	assert.EqualValues(t, 3, h.GetSampleCount())
	assert.InDelta(t, 2.0, h.GetSampleSum(), 1e-9)
	assert.Equal(t, map[float64]uint64{0.005: 2, 2.5: 3}, cumulative(h, 0.005, 2.5))
}

func TestRemindersWithKindsExportsZeroSeriesUpFront(t *testing.T) {
	m, err := metrics.NewReminders(metrics.WithKinds("mail", "sms"))
	require.NoError(t, err)

	want := `
# HELP kit_reminders_succeeded_total Handler calls that returned nil.
# TYPE kit_reminders_succeeded_total counter
kit_reminders_succeeded_total{kind="mail"} 0
kit_reminders_succeeded_total{kind="sms"} 0
`
	assert.NoError(t, testutil.CollectAndCompare(m, strings.NewReader(want), "kit_reminders_succeeded_total"))
	// 6 counters and 1 histogram per kind, and the unlabelled lateness histogram.
	assert.Equal(t, 2*7+1, testutil.CollectAndCount(m))

	m.ObserveReminder(ev(reminders.EventSucceeded, "push"))
	assert.Equal(t, 3, testutil.CollectAndCount(m, "kit_reminders_succeeded_total"), "undeclared kinds are still counted")
}

func TestRemindersNamespaceAndConstLabels(t *testing.T) {
	m, err := metrics.NewReminders(metrics.WithNamespace("booking"),
		metrics.WithConstLabels(prometheus.Labels{"app": "api"}))
	require.NoError(t, err)
	m.ObserveReminder(ev(reminders.EventScheduled, "mail"))

	want := `
# HELP booking_reminders_scheduled_total Reminders stored by Schedule, ScheduleMany or Requeue.
# TYPE booking_reminders_scheduled_total counter
booking_reminders_scheduled_total{app="api",kind="mail"} 1
`
	assert.NoError(t, testutil.CollectAndCompare(m, strings.NewReader(want), "booking_reminders_scheduled_total"))

	// Two schedulers in one registry, told apart by a const label.
	other, err := metrics.NewReminders(metrics.WithNamespace("booking"),
		metrics.WithConstLabels(prometheus.Labels{"app": "worker"}))
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m))
	require.NoError(t, reg.Register(other))
	same, err := metrics.NewReminders(metrics.WithNamespace("booking"),
		metrics.WithConstLabels(prometheus.Labels{"app": "api"}))
	require.NoError(t, err)
	var already prometheus.AlreadyRegisteredError
	assert.ErrorAs(t, reg.Register(same), &already, "identical collectors must clash, not double-count")
}

func TestRemindersWithoutNamespace(t *testing.T) {
	m, err := metrics.NewReminders(metrics.WithNamespace(""))
	require.NoError(t, err)
	m.ObserveReminder(ev(reminders.EventRetried, "mail"))
	assert.Equal(t, 1, testutil.CollectAndCount(m, "reminders_retried_total"))
}

func TestRemindersCustomBuckets(t *testing.T) {
	m, err := metrics.NewReminders(metrics.WithLatenessBuckets(0.5, 2), metrics.WithDurationBuckets(1))
	require.NoError(t, err)
	observe(m,
		reminders.Event{Type: reminders.EventDelivered, Kind: "mail", Lateness: time.Second},
		reminders.Event{Type: reminders.EventSucceeded, Kind: "mail", Duration: 500 * time.Millisecond},
	)
	want := `
# HELP kit_reminders_lateness_seconds Handler start minus the reminder's due time, in seconds (early starts count as 0).
# TYPE kit_reminders_lateness_seconds histogram
kit_reminders_lateness_seconds_bucket{le="0.5"} 0
kit_reminders_lateness_seconds_bucket{le="2"} 1
kit_reminders_lateness_seconds_bucket{le="+Inf"} 1
kit_reminders_lateness_seconds_sum 1
kit_reminders_lateness_seconds_count 1
# HELP kit_reminders_handler_duration_seconds How long handler calls ran, successful or not, in seconds.
# TYPE kit_reminders_handler_duration_seconds histogram
kit_reminders_handler_duration_seconds_bucket{kind="mail",le="1"} 1
kit_reminders_handler_duration_seconds_bucket{kind="mail",le="+Inf"} 1
kit_reminders_handler_duration_seconds_sum{kind="mail"} 0.5
kit_reminders_handler_duration_seconds_count{kind="mail"} 1
`
	assert.NoError(t, testutil.CollectAndCompare(m, strings.NewReader(want),
		"kit_reminders_lateness_seconds", "kit_reminders_handler_duration_seconds"))
}

func TestRemindersInvalidUTF8KindDoesNotPanic(t *testing.T) {
	m, err := metrics.NewReminders()
	require.NoError(t, err)
	require.NotPanics(t, func() {
		m.ObserveReminder(reminders.Event{Type: reminders.EventDead, Kind: "bad\xff"})
	})
	want := `
# HELP kit_reminders_dead_lettered_total Reminders moved to the dead-letter set.
# TYPE kit_reminders_dead_lettered_total counter
kit_reminders_dead_lettered_total{kind="bad` + "\uFFFD" + `"} 1
`
	assert.NoError(t, testutil.CollectAndCompare(m, strings.NewReader(want), "kit_reminders_dead_lettered_total"))
}

// Workers call ObserveReminder from many goroutines at once, while
// Prometheus scrapes; no event may be lost.
func TestRemindersConcurrentObserversLoseNothing(t *testing.T) {
	m, err := metrics.NewReminders()
	require.NoError(t, err)
	const goroutines, perGoroutine = 8, 500
	kinds := []string{"a", "b", "c"}

	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range perGoroutine {
				kind := kinds[(g+i)%len(kinds)]
				observe(m,
					reminders.Event{Type: reminders.EventDelivered, Kind: kind, Lateness: time.Millisecond},
					reminders.Event{Type: reminders.EventSucceeded, Kind: kind, Duration: time.Millisecond},
				)
			}
		}()
	}
	scrapes := make(chan struct{})
	go func() {
		defer close(scrapes)
		<-start
		for range 20 {
			testutil.CollectAndCount(m)
		}
	}()
	close(start)
	wg.Wait()
	<-scrapes

	var delivered, succeeded float64
	for _, k := range kinds {
		delivered += counterValue(t, m, "kit_reminders_delivered_total", k)
		succeeded += counterValue(t, m, "kit_reminders_succeeded_total", k)
	}
	assert.EqualValues(t, goroutines*perGoroutine, delivered)
	assert.EqualValues(t, goroutines*perGoroutine, succeeded)
	assert.EqualValues(t, goroutines*perGoroutine, histogram(t, m, "kit_reminders_lateness_seconds", "").GetSampleCount())
}

func BenchmarkObserveReminder(b *testing.B) {
	m, err := metrics.NewReminders()
	require.NoError(b, err)
	e := reminders.Event{Type: reminders.EventSucceeded, Kind: "appointments.send_reminder", Duration: time.Millisecond}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveReminder(e)
		}
	})
}
