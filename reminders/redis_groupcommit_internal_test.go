package reminders

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

type ctxKey struct{}

// TestSharedContext: a batch's context carries the first caller's values,
// ends with none of the callers, and has the latest of their deadlines
// only when each has one.
func TestSharedContext(t *testing.T) {
	base := time.Now()
	call := func(ctx context.Context) *scheduleCall { return &scheduleCall{ctx: ctx} }
	first, cancelFirst := context.WithDeadline(context.WithValue(context.Background(), ctxKey{}, "v"), base.Add(time.Second))
	later, cancelLater := context.WithDeadline(context.Background(), base.Add(time.Minute))
	defer cancelLater()

	ctx, cancel := sharedContext([]*scheduleCall{call(first), call(later)})
	defer cancel()
	cancelFirst()
	assert.NoError(t, ctx.Err(), "not ended by a caller")
	assert.Equal(t, "v", ctx.Value(ctxKey{}))
	d, ok := ctx.Deadline()
	assert.True(t, ok)
	assert.Equal(t, base.Add(time.Minute), d, "the latest deadline")

	ctx, cancel = sharedContext([]*scheduleCall{call(later), call(context.Background())})
	defer cancel()
	_, ok = ctx.Deadline()
	assert.False(t, ok, "a caller without a deadline: none")
}
