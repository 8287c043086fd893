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
		{time.Hour, MaxBackoff, 1000, MaxBackoff},
		{MaxBackoff, MaxBackoff, 1, MaxBackoff},
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

// The ceiling doubles from min and stops at max, for any retry number,
// without overflowing even at the largest Duration (which WithBackoff no
// longer accepts: a draw from it crashed a worker).
func TestBackoffCeiling(t *testing.T) {
	tests := []struct {
		min, max time.Duration
		n        int
		want     time.Duration
	}{
		{time.Second, 10 * time.Minute, 1, time.Second},
		{time.Second, 10 * time.Minute, 2, 2 * time.Second},
		{time.Second, 10 * time.Minute, 10, 512 * time.Second},
		{time.Second, 10 * time.Minute, 11, 10 * time.Minute},
		{time.Second, 10 * time.Minute, math.MaxInt, 10 * time.Minute},
		{MaxBackoff, MaxBackoff, math.MaxInt, MaxBackoff},
		{time.Hour, math.MaxInt64, 1000, math.MaxInt64},
		{math.MaxInt64, math.MaxInt64, 2, math.MaxInt64},
		{math.MaxInt64/2 + 1, math.MaxInt64, 2, math.MaxInt64},
		{3, math.MaxInt64, 63, math.MaxInt64},
	}
	for _, tc := range tests {
		o := &options{backoffMin: tc.min, backoffMax: tc.max}
		assert.Equal(t, tc.want, backoffCeiling(o, tc.n), "min %d max %d retry %d", tc.min, tc.max, tc.n)
	}
}

// fullJitter draws from [0, ceiling] with both ends included (the eager
// scheduler used to draw from [0, ceiling)), and draws from the largest
// Duration without panicking (rand.N(ceiling+1) overflowed there).
func TestFullJitter(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 1000 {
		d := fullJitter(2)
		require.True(t, d >= 0 && d <= 2, "draw %d outside [0, 2]", d)
		seen[d] = true
	}
	assert.Len(t, seen, 3, "0, 1 and 2 are all drawn")
	assert.Zero(t, fullJitter(0))

	var above bool
	for range 200 {
		d := fullJitter(math.MaxInt64)
		require.GreaterOrEqual(t, d, time.Duration(0))
		above = above || d > math.MaxInt64/2
	}
	assert.True(t, above, "draws spread up to the largest ceiling")
}

// equalJitter, the pause of a Periodic retry, draws from [d/2, d] with
// both ends included, so that instances retrying the same tick spread out
// but still back off.
func TestEqualJitter(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 1000 {
		d := equalJitter(4)
		require.True(t, d >= 2 && d <= 4, "draw %d outside [2, 4]", d)
		seen[d] = true
	}
	assert.Len(t, seen, 3, "2, 3 and 4 are all drawn")
	assert.Zero(t, equalJitter(0))
	for range 200 {
		d := equalJitter(5 * time.Second)
		require.True(t, d >= 2500*time.Millisecond && d <= 5*time.Second, "draw %v outside [2.5s, 5s]", d)
	}
}
