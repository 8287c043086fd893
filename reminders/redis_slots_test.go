package reminders_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// heldPipelines is a go-redis hook that, while hold is set, keeps every
// pipeline of script calls waiting until open is closed (or its context
// ends). The worker records outcomes in such pipelines (settleLoop) and
// claims with single commands, so this holds outcomes on their way, not
// claims (nor a connection's handshake, a pipeline of its own).
type heldPipelines struct {
	hold atomic.Bool
	open chan struct{}
}

func (h *heldPipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *heldPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *heldPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.hold.Load() && len(cmds) > 0 && strings.HasPrefix(cmds[0].Name(), "eval") {
			select {
			case <-h.open:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return next(ctx, cmds)
	}
}

// TestOutcomeOnItsWayHoldsNoSlot: a handler's slot is free again when the
// handler returns, not when its outcome is recorded, so that a worker
// with one slot starts the next due reminder while the first's ack is on
// the wire; and the outcomes on their way are bounded by the concurrency:
// with every ack held, one slot lets two handlers run (one outcome on its
// way, one slot), then no more until the acks go through.
func TestOutcomeOnItsWayHoldsNoSlot(t *testing.T) {
	t.Parallel()
	r, s := newRedis(t)
	const n = 5
	for i := range n {
		require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: fmt.Sprint("slot", i), Kind: "k", DueAt: time.Now()}))
	}
	c := r.NewClient(t)
	held := &heldPipelines{open: make(chan struct{})}
	held.hold.Store(true)
	c.AddHook(held)
	var got deliveries
	w := newOn(t, c, r.Prefix, reminders.WithConcurrency(1))
	runWorker(t, w, record(&got))

	require.Eventually(t, func() bool { return got.len() == 2 }, 10*time.Second, time.Millisecond,
		"a second handler runs while the first's ack is held")
	time.Sleep(1500 * time.Millisecond) // past pollCap: the worker looked again
	assert.Equal(t, 2, got.len(), "no third handler while two acks are on their way, with one slot")

	close(held.open)
	got.waitN(t, n, 20*time.Second)
	for i := range n {
		assert.Equal(t, 1, got.count(fmt.Sprint("slot", i)), "delivered once")
	}
	require.Eventually(t, func() bool {
		st, err := s.Stats(bg(t))
		return err == nil && st.Pending == 0 && st.InFlight == 0
	}, 10*time.Second, 10*time.Millisecond, "every ack recorded")
}
