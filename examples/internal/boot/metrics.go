package boot

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sytefy/kit/metrics"
	"github.com/sytefy/kit/reminders"
)

// metricSet is the service's Prometheus registry: the library's session
// and reminder collectors, the stored-reminder gauges when a Redis
// scheduler is used, and the Go runtime's. A registry of its own, not the
// global default, so two services in one test process do not collide.
type metricSet struct {
	reg       *prometheus.Registry
	sessions  *metrics.Sessions
	reminders *metrics.Reminders
}

func newMetrics() (*metricSet, error) {
	m := &metricSet{reg: prometheus.NewRegistry()}
	var err error
	if m.sessions, err = metrics.NewSessions(); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if m.reminders, err = metrics.NewReminders(); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	for _, c := range []prometheus.Collector{
		m.sessions, m.reminders,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return m, nil
}

// watch adds the pending, in-flight and dead gauges of q, read at each
// scrape.
func (m *metricSet) watch(q *reminders.RedisScheduler) error {
	stats, err := metrics.NewReminderStats(q)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if err := m.reg.Register(stats); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// handler serves the registry in the Prometheus exposition format.
func (m *metricSet) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
