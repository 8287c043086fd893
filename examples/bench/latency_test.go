package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPercentileNearestRank(t *testing.T) {
	// 1..100 ms: the p-th percentile by nearest rank is p ms.
	var l latencies
	for i := 100; i >= 1; i-- { // unsorted on purpose: summarize sorts
		l = append(l, time.Duration(i)*time.Millisecond)
	}
	s := summarize(l)
	assert.Equal(t, 100, s.N)
	assert.Equal(t, 50.0, s.P50)
	assert.Equal(t, 90.0, s.P90)
	assert.Equal(t, 99.0, s.P99)
	assert.Equal(t, 100.0, s.Max)
	assert.Equal(t, 1.0, s.Min)

	// Few samples: p99 of two is the larger, p50 the smaller.
	two := summarize(latencies{3 * time.Millisecond, -time.Millisecond})
	assert.Equal(t, -1.0, two.P50, "early deliveries are negative and sort first")
	assert.Equal(t, 3.0, two.P99)

	assert.Equal(t, summary{}, summarize(nil))
}

func TestRatioNeverInfinite(t *testing.T) {
	assert.Equal(t, 0.0, ratio(5, 0))
	assert.Equal(t, 2.5, ratio(5, 2))
}
