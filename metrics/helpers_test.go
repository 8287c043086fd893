package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// family gathers c and returns the family called name, or fails the test.
func family(t testing.TB, c prometheus.Collector, name string) *dto.MetricFamily {
	t.Helper()
	return gatherFamily(t, gatherOnce(t, c), name)
}

// gatherFamily gathers g once and returns the family called name, or fails
// the test.
func gatherFamily(t testing.TB, g prometheus.Gatherer, name string) *dto.MetricFamily {
	t.Helper()
	families, err := g.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name {
			return f
		}
	}
	require.Failf(t, "metric family not found", "%s", name)
	return nil
}

// metric returns the series of family name whose kind label is kind ("" for
// a family without a kind label).
func metric(t testing.TB, c prometheus.Collector, name, kind string) *dto.Metric {
	t.Helper()
	m := series(family(t, c, name), kind)
	if m == nil {
		require.Failf(t, "series not found", "%s{kind=%q}", name, kind)
	}
	return m
}

// series returns the series of f whose kind label is kind, or nil.
func series(f *dto.MetricFamily, kind string) *dto.Metric {
	for _, m := range f.GetMetric() {
		got := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == "kind" {
				got = l.GetValue()
			}
		}
		if got == kind {
			return m
		}
	}
	return nil
}

// polledCounter is the counter name{kind} of c, or 0 while it has no such
// series: for require.Eventually conditions, which must not fail the test
// before the series first appears (a failure there ends the condition's
// goroutine, and Eventually then waits out its whole time).
func polledCounter(t testing.TB, c prometheus.Collector, name, kind string) float64 {
	t.Helper()
	families, err := gatherOnce(t, c).Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name {
			return series(f, kind).GetCounter().GetValue() // nil-safe: 0
		}
	}
	return 0
}

func counterValue(t testing.TB, c prometheus.Collector, name, kind string) float64 {
	t.Helper()
	return metric(t, c, name, kind).GetCounter().GetValue()
}

func histogram(t testing.TB, c prometheus.Collector, name, kind string) *dto.Histogram {
	t.Helper()
	return metric(t, c, name, kind).GetHistogram()
}

// cumulative returns the cumulative count of h's buckets at the given upper
// bounds.
func cumulative(h *dto.Histogram, bounds ...float64) map[float64]uint64 {
	out := make(map[float64]uint64, len(bounds))
	for _, b := range h.GetBucket() {
		for _, want := range bounds {
			if b.GetUpperBound() == want {
				out[want] = b.GetCumulativeCount()
			}
		}
	}
	return out
}

// gatherOnce returns a Gatherer over c alone.
func gatherOnce(t testing.TB, c prometheus.Collector) prometheus.Gatherer {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	return reg
}

// single gathers g once and returns the value of name, a counter or gauge
// with one series.
func single(t testing.TB, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	series := gatherFamily(t, g, name).GetMetric()
	require.Len(t, series, 1, name)
	if c := series[0].GetCounter(); c != nil {
		return c.GetValue()
	}
	return series[0].GetGauge().GetValue()
}
