package main

import (
	"math"
	"slices"
	"time"
)

// latencies is a set of measured durations. Every sample is kept (a few
// hundred thousand at most per phase, 8 bytes each), so percentiles are
// exact rather than bucketed.
type latencies []time.Duration

// percentile returns the p-th percentile (0 < p <= 100) by the nearest-rank
// method: the smallest sample such that at least p% of the samples are at
// or below it. l must be sorted; an empty set gives 0.
func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(l))))
	rank = min(max(rank, 1), len(l))
	return l[rank-1]
}

// summary is the percentiles the report prints, in milliseconds (JSON
// numbers, three decimals are enough for microsecond resolution).
type summary struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
	Min float64 `json:"min_ms"`
}

// summarize sorts l in place and returns its percentiles.
func summarize(l latencies) summary {
	slices.Sort(l)
	if len(l) == 0 {
		return summary{}
	}
	return summary{
		N:   len(l),
		P50: ms(l.percentile(50)),
		P90: ms(l.percentile(90)),
		P99: ms(l.percentile(99)),
		Max: ms(l[len(l)-1]),
		Min: ms(l[0]),
	}
}

// ms converts d to milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// ratio returns a/b, or 0 when b is 0 (a figure that was not measured), so
// that the JSON line never holds NaN or Inf.
func ratio(a, b float64) float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return 0
	}
	return a / b
}
