package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sytefy/kit/sessions"
)

// Sessions turns session-store events into Prometheus counters. It is a
// sessions.Observer (pass it to sessions.WithObserver) and a
// prometheus.Collector (register it with your own Registerer). It is safe
// for concurrent use; ObserveSession does no I/O and allocates nothing.
//
// Metrics, with the default namespace "kit" (WithNamespace changes the
// first component, WithConstLabels adds labels to all):
//
//	kit_sessions_remembered_total          counter: sessions stored by Remember
//	kit_sessions_rotated_total             counter: successors created by Rotate (refresh token rotation)
//	kit_sessions_reuse_detected_total      counter: Rotate calls given an already rotated ID (reuse detection)
//	kit_sessions_revoke_calls_total        counter: successful Revoke calls, no-ops included
//	kit_sessions_revoke_all_calls_total    counter: successful RevokeAllForUser calls
//	kit_sessions_revoked_total{cause}      counter: active sessions ended, by cause:
//	                                                "revoke", "revoke_all", "reuse_detected" (the family revoked)
//	                                                or "evicted" (by Remember, over WithMaxSessionsPerUser)
//	kit_sessions_backend_errors_total      counter: operations that failed closed with ErrUnavailable
//
// Every series exists, at zero, from the first scrape. The events carry no
// user or session ID, and neither do the metrics. The zero value is not
// usable; call NewSessions.
type Sessions struct {
	remembered, rotated, reuse, revokeCalls, revokeAllCalls, backendErrors prometheus.Counter
	revokedVec                                                             *prometheus.CounterVec
	// The children of revokedVec, resolved once so that ObserveSession
	// does no label lookup.
	revokedByRevoke, revokedByRevokeAll, revokedByReuse, revokedByEviction prometheus.Counter
}

var (
	_ sessions.Observer    = (*Sessions)(nil)
	_ prometheus.Collector = (*Sessions)(nil)
)

// NewSessions returns a collector for session-store events. It returns an
// error wrapping ErrInvalid for a bad option; it registers nothing and
// starts nothing.
func NewSessions(opts ...Option) (*Sessions, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: o.namespace, Subsystem: "sessions", Name: name, Help: help, ConstLabels: o.constLabels,
		})
	}
	m := &Sessions{
		remembered:     counter("remembered_total", "Sessions stored by Remember."),
		rotated:        counter("rotated_total", "Successor sessions created by Rotate."),
		reuse:          counter("reuse_detected_total", "Rotate calls given an already rotated ID; the family was revoked."),
		revokeCalls:    counter("revoke_calls_total", "Successful Revoke calls, including those that found nothing to revoke."),
		revokeAllCalls: counter("revoke_all_calls_total", "Successful RevokeAllForUser calls."),
		backendErrors:  counter("backend_errors_total", "Store operations that failed closed because the backend failed or the context ended."),
		revokedVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: o.namespace, Subsystem: "sessions", Name: "revoked_total",
			Help:        "Active sessions ended, by cause: revoke, revoke_all, reuse_detected or evicted.",
			ConstLabels: o.constLabels,
		}, []string{"cause"}),
	}
	m.revokedByRevoke = m.revokedVec.WithLabelValues("revoke")
	m.revokedByRevokeAll = m.revokedVec.WithLabelValues("revoke_all")
	m.revokedByReuse = m.revokedVec.WithLabelValues("reuse_detected")
	m.revokedByEviction = m.revokedVec.WithLabelValues("evicted")
	return m, nil
}

func (m *Sessions) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.remembered, m.rotated, m.reuse, m.revokeCalls, m.revokeAllCalls, m.revokedVec, m.backendErrors}
}

// ObserveSession records e. Event types it does not know are ignored, so
// that a newer sessions package can add some without breaking it; a
// negative Count counts as zero.
func (m *Sessions) ObserveSession(e sessions.Event) {
	n := float64(max(e.Count, 0))
	switch e.Type {
	case sessions.EventRemembered:
		m.remembered.Inc()
	case sessions.EventRotated:
		m.rotated.Inc()
	case sessions.EventReuseDetected:
		m.reuse.Inc()
		m.revokedByReuse.Add(n)
	case sessions.EventRevoked:
		m.revokeCalls.Inc()
		m.revokedByRevoke.Add(n)
	case sessions.EventRevokedAll:
		m.revokeAllCalls.Inc()
		m.revokedByRevokeAll.Add(n)
	case sessions.EventEvicted:
		m.revokedByEviction.Add(n)
	case sessions.EventBackendError:
		m.backendErrors.Inc()
	}
}

// Describe sends the descriptors of every metric; part of
// prometheus.Collector.
func (m *Sessions) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect sends the current value of every metric; part of
// prometheus.Collector.
func (m *Sessions) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}
