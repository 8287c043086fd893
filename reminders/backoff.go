package reminders

import (
	"math/rand/v2"
	"time"
)

// backoffDelay is the pause before retry n (from 1), as WithBackoff
// documents: drawn uniformly from [0, ceiling], both ends included, where
// the ceiling is min(max, min·2^(n-1)) ("full jitter", so that reminders
// failing together do not retry in step), and raised to 1ms. Both
// backends use it.
func backoffDelay(o *options, n int) time.Duration {
	// Double from min up to max: at most ~60 steps, never overflowing.
	ceiling := o.backoffMin
	for i := 1; i < n && ceiling < o.backoffMax; i++ {
		if ceiling > o.backoffMax/2 {
			ceiling = o.backoffMax
		} else {
			ceiling *= 2
		}
	}
	// In uint64, ceiling+1 cannot overflow even when max is the largest
	// Duration; the draw is at most ceiling, so it fits back.
	return max(time.Duration(rand.Uint64N(uint64(ceiling)+1)), time.Millisecond)
}
