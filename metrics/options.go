package metrics

import (
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sytefy/kit/reminders"
)

// Option configures a collector (NewReminders, NewReminderStats,
// NewSessions). One option list serves every constructor in this package:
// an option a collector does not use is accepted and ignored
// (WithStatsTimeout on Sessions, for example), so an application can build
// all its collectors from one list. Nil options are ignored. WithKinds
// given twice declares the kinds of both; any other option given twice
// takes the last value.
type Option func(*options) error

type options struct {
	namespace       string
	constLabels     prometheus.Labels
	latenessBuckets []float64
	durationBuckets []float64
	kinds           []string
	statsTimeout    time.Duration
	logger          *slog.Logger
}

// Defaults of the options.
const (
	// DefaultNamespace is the first component of every metric name
	// (WithNamespace).
	DefaultNamespace = "kit"
	// DefaultStatsTimeout is how long a ReminderStats scrape waits for its
	// StatsSource, 1s (WithStatsTimeout).
	DefaultStatsTimeout = time.Second
)

// DefaultLatenessBuckets are the upper bounds, in seconds, of the lateness
// histogram: 1 ms to 60 s, dense below a second where a healthy
// scheduler's lateness lives, sparse above it where a backlog shows.
func DefaultLatenessBuckets() []float64 {
	return []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
}

// DefaultDurationBuckets are the upper bounds, in seconds, of the handler
// duration histogram: 1 ms to 60 s, the span from a cache write to a slow
// third-party API call.
func DefaultDurationBuckets() []float64 {
	return []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
}

func newOptions(opts []Option) (*options, error) {
	o := &options{
		namespace:       DefaultNamespace,
		latenessBuckets: DefaultLatenessBuckets(),
		durationBuckets: DefaultDurationBuckets(),
		statsTimeout:    DefaultStatsTimeout,
		logger:          slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func invalidOption(format string, args ...any) error {
	return fmt.Errorf("%w: option "+format, append([]any{ErrInvalid}, args...)...)
}

// WithNamespace sets the first component of every metric name
// ("myapp" gives myapp_reminders_scheduled_total). It must match
// [a-zA-Z_][a-zA-Z0-9_]* and be at most 64 bytes; "" leaves the
// namespace out (reminders_scheduled_total). Default: "kit".
func WithNamespace(ns string) Option {
	return func(o *options) error {
		if len(ns) > 64 {
			return invalidOption("WithNamespace: length %d, want at most 64", len(ns))
		}
		if ns != "" && !isName(ns) {
			return invalidOption("WithNamespace: %q, want [a-zA-Z_][a-zA-Z0-9_]*", ns)
		}
		o.namespace = ns
		return nil
	}
}

// WithConstLabels adds labels with fixed values to every metric, for
// example {"app": "booking"} to tell two schedulers in one process apart.
// Names must match [a-zA-Z_][a-zA-Z0-9_]*, must not start with "__"
// (reserved by Prometheus) and must not be "kind", "shard", "cause", "le"
// or "quantile" (the collectors' own labels and the histograms'); values
// must be valid UTF-8. The map is copied. Default: none.
func WithConstLabels(labels prometheus.Labels) Option {
	return func(o *options) error {
		for _, name := range slices.Sorted(maps.Keys(labels)) {
			switch {
			case !isName(name) || len(name) >= 2 && name[:2] == "__":
				return invalidOption("WithConstLabels: label name %q is not allowed", name)
			case name == "kind" || name == "shard" || name == "cause" || name == "le" || name == "quantile":
				return invalidOption("WithConstLabels: label name %q is reserved", name)
			case !utf8.ValidString(labels[name]):
				return invalidOption("WithConstLabels: value of %q is not valid UTF-8", name)
			}
		}
		o.constLabels = maps.Clone(labels)
		return nil
	}
}

// WithLatenessBuckets sets the upper bounds, in seconds, of the lateness
// histogram's buckets: 1..64 finite values in increasing order (+Inf is
// always added). Default: DefaultLatenessBuckets, 1 ms to 60 s.
func WithLatenessBuckets(bounds ...float64) Option {
	return func(o *options) error {
		if err := checkBuckets(bounds); err != nil {
			return invalidOption("WithLatenessBuckets: %v", err)
		}
		o.latenessBuckets = slices.Clone(bounds)
		return nil
	}
}

// WithDurationBuckets sets the upper bounds, in seconds, of the handler
// duration histogram's buckets: 1..64 finite values in increasing order
// (+Inf is always added). Default: DefaultDurationBuckets, 1 ms to 60 s.
func WithDurationBuckets(bounds ...float64) Option {
	return func(o *options) error {
		if err := checkBuckets(bounds); err != nil {
			return invalidOption("WithDurationBuckets: %v", err)
		}
		o.durationBuckets = slices.Clone(bounds)
		return nil
	}
}

// WithKinds declares the reminder kinds the application handles, so that
// their per-kind series exist, at zero, from the first scrape: a counter
// that appears only with its first increment hides that increment from
// rate() and increase(). Kinds not declared are still counted when they
// appear. Each kind is 1..256 bytes of valid UTF-8. Default: none.
func WithKinds(kinds ...string) Option {
	return func(o *options) error {
		for _, k := range kinds {
			if len(k) == 0 || len(k) > reminders.MaxIDLen || !utf8.ValidString(k) {
				return invalidOption("WithKinds: kind %q, want 1..%d bytes of UTF-8", k, reminders.MaxIDLen)
			}
		}
		o.kinds = append(o.kinds, kinds...)
		return nil
	}
}

// WithStatsTimeout bounds how long one scrape of a ReminderStats waits for
// the StatsSource (1 ms..1 min). A source that takes longer makes that
// scrape leave out the per-shard gauges and report
// reminders_stats_up 0; the scrape itself is never held longer.
// Default: 1s.
func WithStatsTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d < time.Millisecond || d > time.Minute {
			return invalidOption("WithStatsTimeout: %s, want 1ms..1m", d)
		}
		o.statsTimeout = d
		return nil
	}
}

// WithLogger sets the logger. ReminderStats logs a failed or timed-out
// StatsSource at WARN; nothing else logs. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return invalidOption("WithLogger: nil logger")
		}
		o.logger = l
		return nil
	}
}

// isName reports whether s matches [a-zA-Z_][a-zA-Z0-9_]*, the classic
// Prometheus metric and label name character set (colons are left to
// recording rules).
func isName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}

func checkBuckets(bounds []float64) error {
	if len(bounds) == 0 || len(bounds) > 64 {
		return fmt.Errorf("%d bounds, want 1..64", len(bounds))
	}
	for i, b := range bounds {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return fmt.Errorf("bound %d is %v, want a finite number", i, b)
		}
		if i > 0 && b <= bounds[i-1] {
			return fmt.Errorf("bound %d (%v) is not above bound %d (%v)", i, b, i-1, bounds[i-1])
		}
	}
	return nil
}
