package reminders

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eagerDelay: no wait unless WithBackoff was given; then full jitter under
// a ceiling that doubles from min and stops at max, never below 1ms and
// never overflowing.
func TestEagerDelay(t *testing.T) {
	o, err := newOptions(nil)
	require.NoError(t, err)
	for n := 1; n <= 100; n++ {
		assert.Zero(t, eagerDelay(o, n), "no WithBackoff: no sleep before retry %d", n)
	}

	tests := []struct {
		min, max time.Duration
		n        int
		ceiling  time.Duration
	}{
		{10 * time.Millisecond, time.Second, 1, 10 * time.Millisecond},
		{10 * time.Millisecond, time.Second, 2, 20 * time.Millisecond},
		{10 * time.Millisecond, time.Second, 4, 80 * time.Millisecond},
		{10 * time.Millisecond, time.Second, 8, time.Second},
		{10 * time.Millisecond, time.Second, 1000, time.Second},
		{time.Hour, 1<<63 - 1, 1000, 1<<63 - 1},
	}
	for _, tc := range tests {
		o, err := newOptions([]Option{WithBackoff(tc.min, tc.max)})
		require.NoError(t, err)
		var above bool // the draw is random, not pinned to the ceiling
		for range 200 {
			d := eagerDelay(o, tc.n)
			require.GreaterOrEqual(t, d, time.Millisecond)
			require.LessOrEqual(t, d, tc.ceiling, "min %s max %s retry %d", tc.min, tc.max, tc.n)
			above = above || d > tc.ceiling/2
		}
		assert.True(t, above, "min %s max %s retry %d: draws spread up to the ceiling", tc.min, tc.max, tc.n)
	}
}

// backoffDelay, shared by both backends: draws up to the ceiling without
// overflowing when the ceiling is the largest Duration (a draw from
// [0, ceiling+1) would overflow there and panic), and never below 1ms.
func TestBackoffDelayLargestCeiling(t *testing.T) {
	o, err := newOptions([]Option{WithBackoff(time.Hour, math.MaxInt64)})
	require.NoError(t, err)
	var above bool
	for range 200 {
		d := backoffDelay(o, 1000) // ceiling: math.MaxInt64
		require.GreaterOrEqual(t, d, time.Millisecond)
		above = above || d > math.MaxInt64/2
	}
	assert.True(t, above, "draws spread up to the ceiling")
}
