package reminders

import (
	"math/rand/v2"
	"time"
)

// backoffDelay is the pause before retry n (from 1), the one function both
// backends draw it with, as WithBackoff documents: uniform in [0, ceiling],
// both ends included ("full jitter", so that reminders failing together do
// not retry in step), raised to 1ms.
func backoffDelay(o *options, n int) time.Duration {
	return max(fullJitter(backoffCeiling(o, n)), time.Millisecond)
}

// backoffCeiling is min(max, min·2^(n-1)) for retry n (from 1). It never
// overflows, whatever the options hold (WithBackoff caps max at
// MaxBackoff, but this does not rely on it): the ceiling doubles only
// while it is at most half of max, so at most ~63 times.
func backoffCeiling(o *options, n int) time.Duration {
	ceiling := o.backoffMin
	for i := 1; i < n && ceiling < o.backoffMax; i++ {
		if ceiling > o.backoffMax/2 {
			ceiling = o.backoffMax
		} else {
			ceiling *= 2
		}
	}
	return ceiling
}

// fullJitter draws uniformly from [0, ceiling], both ends included. The
// draw is made in uint64, where ceiling+1 fits even for the largest
// Duration (in int64 it would overflow, and rand.Int64N panic).
func fullJitter(ceiling time.Duration) time.Duration {
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Uint64N(uint64(ceiling) + 1))
}

// equalJitter draws uniformly from [d/2, d]: the pause before a Periodic
// retry while the store or scheduler is unavailable. Every instance fires
// the same tick, so without jitter they would all retry in step when an
// outage ends; half the pause is kept so that the retries still back off.
func equalJitter(d time.Duration) time.Duration {
	return d/2 + fullJitter(d-d/2)
}
