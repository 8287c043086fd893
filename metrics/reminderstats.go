package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sytefy/kit/reminders"
)

// StatsSource counts stored reminders. *reminders.RedisScheduler is one.
// Stats must honour ctx; ReminderStats never waits past its timeout
// either way.
type StatsSource interface {
	// Stats returns the current counts, over all shards and per shard,
	// as reminders.RedisScheduler.Stats does.
	Stats(ctx context.Context) (reminders.Stats, error)
}

// ReminderStats is a prometheus.Collector that reads a StatsSource on each
// scrape and reports what is stored, per shard. Register it with your own
// Registerer. It is safe for concurrent use.
//
// Metrics, with the default namespace "kit":
//
//	kit_reminders_pending{shard}         gauge: reminders stored and not yet claimed, due or not
//	kit_reminders_in_flight{shard}       gauge: reminders claimed and not yet settled or taken back
//	kit_reminders_dead{shard}            gauge: reminders in the dead-letter set
//	kit_reminders_stats_up               gauge: 1 if this scrape read the counts, 0 if not
//	kit_reminders_stats_errors_total     counter: scrapes whose read failed or timed out
//
// A scrape reads the counts once (for a RedisScheduler, a few O(1) counts
// per shard) and waits at most the stats timeout (WithStatsTimeout,
// default 1s). When the read fails or times out, that scrape leaves the
// three gauges out rather than report stale numbers, sets stats_up to 0,
// counts the error and logs it at WARN; the rest of the registry is
// scraped as usual. Concurrent scrapes share one read, and a read that
// outlives its scrape (a source that ignores ctx) is joined by the next
// scrapes rather than started again, so a stuck backend never piles up
// calls. A source that leaves Stats.Shards empty is reported as one series
// per gauge with an empty shard label, holding the totals. The zero value
// is not usable; call NewReminderStats.
type ReminderStats struct {
	src     StatsSource
	timeout time.Duration
	logger  *slog.Logger

	pending, inFlight, dead, up *prometheus.Desc
	errors                      prometheus.Counter

	mu   sync.Mutex
	call *statsCall // the read in progress, nil when none
}

// statsCall is one read of the source, shared by every scrape that waits
// for it; stats and err are written before done is closed.
type statsCall struct {
	done  chan struct{}
	stats reminders.Stats
	err   error
}

var _ prometheus.Collector = (*ReminderStats)(nil)

// NewReminderStats returns a collector that reads src on each scrape. It
// returns an error wrapping ErrInvalid for a nil src (a typed nil such as
// (*reminders.RedisScheduler)(nil) included) or a bad option; it registers
// nothing and starts nothing.
func NewReminderStats(src StatsSource, opts ...Option) (*ReminderStats, error) {
	if src == nil || isNilPointer(src) {
		return nil, fmt.Errorf("%w: NewReminderStats: nil StatsSource", ErrInvalid)
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	name := func(n string) string { return prometheus.BuildFQName(o.namespace, "reminders", n) }
	gauge := func(n, help string) *prometheus.Desc {
		return prometheus.NewDesc(name(n), help, []string{"shard"}, o.constLabels)
	}
	return &ReminderStats{
		src:      src,
		timeout:  o.statsTimeout,
		logger:   o.logger,
		pending:  gauge("pending", "Reminders stored and not yet claimed, due or not."),
		inFlight: gauge("in_flight", "Reminders claimed by a worker and not yet settled or taken back."),
		dead:     gauge("dead", "Reminders in the dead-letter set."),
		up: prometheus.NewDesc(name("stats_up"),
			"1 if this scrape read the reminder counts, 0 if the read failed or timed out.", nil, o.constLabels),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: o.namespace, Subsystem: "reminders", Name: "stats_errors_total",
			Help: "Scrapes whose read of the reminder counts failed or timed out.", ConstLabels: o.constLabels,
		}),
	}, nil
}

// Describe sends the descriptors of every metric; part of
// prometheus.Collector.
func (c *ReminderStats) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.inFlight
	ch <- c.dead
	ch <- c.up
	c.errors.Describe(ch)
}

// Collect reads the source (waiting at most the stats timeout) and sends
// the gauges; part of prometheus.Collector.
func (c *ReminderStats) Collect(ch chan<- prometheus.Metric) {
	st, err := c.read()
	if err != nil {
		c.errors.Inc()
		c.logger.Warn("metrics: reading reminder stats", slog.Any("error", err))
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		c.errors.Collect(ch)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	c.errors.Collect(ch)
	if len(st.Shards) == 0 {
		c.sendCounts(ch, "", st.Pending, st.InFlight, st.Dead)
	}
	for _, s := range st.Shards {
		c.sendCounts(ch, strconv.Itoa(s.Shard), s.Pending, s.InFlight, s.Dead)
	}
}

func (c *ReminderStats) sendCounts(ch chan<- prometheus.Metric, shard string, pending, inFlight, dead int64) {
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(pending), shard)
	ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(inFlight), shard)
	ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(dead), shard)
}

// read joins the read in progress or starts one, and waits for it at most
// the stats timeout. The read runs on its own goroutine so that a source
// that ignores its context delays no scrape; that goroutine ends when the
// source returns.
func (c *ReminderStats) read() (reminders.Stats, error) {
	c.mu.Lock()
	call := c.call
	if call == nil {
		call = &statsCall{done: make(chan struct{})}
		c.call = call
		go c.run(call)
	}
	c.mu.Unlock()

	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	select {
	case <-call.done:
		return call.stats, call.err
	case <-timer.C:
		return reminders.Stats{}, fmt.Errorf("no answer within %s: %w", c.timeout, context.DeadlineExceeded)
	}
}

func (c *ReminderStats) run(call *statsCall) {
	defer func() {
		if p := recover(); p != nil {
			// A panicking source must not take the process down with
			// the scrape.
			call.err = fmt.Errorf("StatsSource panicked: %v", p)
		}
		c.mu.Lock()
		c.call = nil
		c.mu.Unlock()
		close(call.done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	call.stats, call.err = c.src.Stats(ctx)
}

// isNilPointer reports whether v holds a nil pointer: a typed nil passes a
// "v == nil" check, and would panic at the first scrape.
func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
