package metrics

import (
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sytefy/kit/reminders"
)

// Reminders turns reminder events into Prometheus counters and histograms.
// It is a reminders.Observer (pass it to reminders.WithObserver) and a
// prometheus.Collector (register it with your own Registerer); it keeps no
// global state, so two schedulers may have two collectors told apart by
// WithConstLabels. It is safe for concurrent use. ObserveReminder is
// cheap enough for a worker's hot path: no I/O, and no allocation once a
// kind has been seen (BenchmarkObserveReminder).
//
// Metrics, with the default namespace "kit" (WithNamespace changes the
// first component, WithConstLabels adds labels to all):
//
//	kit_reminders_scheduled_total{kind}        counter: reminders stored by Schedule, ScheduleMany or Requeue
//	kit_reminders_delivered_total{kind}        counter: handler calls started (attempts)
//	kit_reminders_succeeded_total{kind}        counter: handler calls that returned nil
//	kit_reminders_failed_total{kind}           counter: handler calls that returned an error or panicked
//	kit_reminders_retried_total{kind}          counter: failed attempts put back with backoff
//	kit_reminders_dead_lettered_total{kind}    counter: reminders moved to the dead-letter set
//	kit_reminders_lateness_seconds             histogram: handler start minus due time
//	kit_reminders_handler_duration_seconds{kind} histogram: handler run time, successes and failures
//
// A failed attempt is followed by one retried or dead-lettered event,
// unless the attempt stopped counting while it ran (the reminder was
// rescheduled, cancelled or released, or its lease expired: Redis
// scheduler), when neither follows. Some reminders are dead-lettered
// without a failed attempt: corrupt records (their kind may be empty) and
// reminders whose lease expired on their last attempt. So failed is at
// least retried plus dead-lettered, less those two; it is not an identity.
// Lateness below zero (the eager scheduler runs a reminder at once, even
// one due later) is recorded as zero, and so is a negative Duration (an
// observer's own event): a histogram's _sum must only grow for rate() to
// make sense of it.
//
// The kind label takes Reminder.Kind as it is, so keep kinds a small fixed
// set (handler names, not IDs). The zero value is not usable; call
// NewReminders.
type Reminders struct {
	scheduled, delivered, succeeded, failed, retried, dead *prometheus.CounterVec
	lateness                                               prometheus.Histogram
	duration                                               *prometheus.HistogramVec
}

var (
	_ reminders.Observer   = (*Reminders)(nil)
	_ prometheus.Collector = (*Reminders)(nil)
)

// NewReminders returns a collector for reminder events. It returns an
// error wrapping ErrInvalid for a bad option; it registers nothing and
// starts nothing.
func NewReminders(opts ...Option) (*Reminders, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: o.namespace, Subsystem: "reminders", Name: name, Help: help,
			ConstLabels: o.constLabels,
		}, []string{"kind"})
	}
	m := &Reminders{
		scheduled: counter("scheduled_total", "Reminders stored by Schedule, ScheduleMany or Requeue."),
		delivered: counter("delivered_total", "Handler calls started, one per attempt."),
		succeeded: counter("succeeded_total", "Handler calls that returned nil."),
		failed:    counter("failed_total", "Handler calls that returned an error or panicked."),
		retried:   counter("retried_total", "Failed attempts put back to be retried after a backoff."),
		dead:      counter("dead_lettered_total", "Reminders moved to the dead-letter set."),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: o.namespace, Subsystem: "reminders", Name: "lateness_seconds",
			Help:        "Handler start minus the reminder's due time, in seconds (early starts count as 0).",
			ConstLabels: o.constLabels, Buckets: o.latenessBuckets,
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: o.namespace, Subsystem: "reminders", Name: "handler_duration_seconds",
			Help:        "How long handler calls ran, successful or not, in seconds.",
			ConstLabels: o.constLabels, Buckets: o.durationBuckets,
		}, []string{"kind"}),
	}
	for _, k := range o.kinds {
		for _, v := range m.counters() {
			v.WithLabelValues(k)
		}
		m.duration.WithLabelValues(k)
	}
	return m, nil
}

func (m *Reminders) counters() []*prometheus.CounterVec {
	return []*prometheus.CounterVec{m.scheduled, m.delivered, m.succeeded, m.failed, m.retried, m.dead}
}

// ObserveReminder records e. Event types it does not know are ignored, so
// that a newer reminders package can add some without breaking it.
func (m *Reminders) ObserveReminder(e reminders.Event) {
	kind := e.Kind
	if !utf8.ValidString(kind) {
		// Label values must be UTF-8, or client_golang panics; a corrupt
		// record's kind is the only way one could get here.
		kind = strings.ToValidUTF8(kind, "\uFFFD")
	}
	switch e.Type {
	case reminders.EventScheduled:
		m.scheduled.WithLabelValues(kind).Inc()
	case reminders.EventDelivered:
		m.delivered.WithLabelValues(kind).Inc()
		m.lateness.Observe(max(e.Lateness.Seconds(), 0))
	case reminders.EventSucceeded:
		m.succeeded.WithLabelValues(kind).Inc()
		m.duration.WithLabelValues(kind).Observe(max(e.Duration.Seconds(), 0))
	case reminders.EventFailed:
		m.failed.WithLabelValues(kind).Inc()
		m.duration.WithLabelValues(kind).Observe(max(e.Duration.Seconds(), 0))
	case reminders.EventRetried:
		m.retried.WithLabelValues(kind).Inc()
	case reminders.EventDead:
		m.dead.WithLabelValues(kind).Inc()
	}
}

// Describe sends the descriptors of every metric; part of
// prometheus.Collector.
func (m *Reminders) Describe(ch chan<- *prometheus.Desc) {
	for _, v := range m.counters() {
		v.Describe(ch)
	}
	m.lateness.Describe(ch)
	m.duration.Describe(ch)
}

// Collect sends the current value of every metric; part of
// prometheus.Collector.
func (m *Reminders) Collect(ch chan<- prometheus.Metric) {
	for _, v := range m.counters() {
		v.Collect(ch)
	}
	m.lateness.Collect(ch)
	m.duration.Collect(ch)
}
