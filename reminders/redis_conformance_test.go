package reminders_test

import (
	"testing"

	"github.com/sytefy/kit/reminders"
	"github.com/sytefy/kit/reminders/remindertest"
)

// TestRedisConformance runs the shared suite on the Redis scheduler with
// one worker, on miniredis, Redis or a cluster (six shards).
func TestRedisConformance(t *testing.T) {
	remindertest.Run(t, func(t *testing.T, h reminders.Handler, opts ...reminders.Option) reminders.Scheduler {
		_, s := newRedis(t, opts...)
		runWorker(t, s, h)
		return s
	})
}
