package reminders

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stallingTime delays the request of the first TIME call, as a stalled
// network or a paused client would: the server reads its clock late, and
// that sample is the tightest lower bound, as the others are slow to come
// back (by lag each).
type stallingTime struct {
	redis.Cmdable
	stall, lag time.Duration
	calls      int
}

func (s *stallingTime) Time(ctx context.Context) *redis.TimeCmd {
	s.calls++
	if s.calls == 1 {
		time.Sleep(s.stall)
		return s.Cmdable.Time(ctx)
	}
	defer time.Sleep(s.lag)
	return s.Cmdable.Time(ctx)
}

// A stalled TIME round trip does not pass for a skewed host clock: the
// skew comes from the shortest trip, while the lower bound still comes
// from the tightest sample.
func TestClockSampleSkewIgnoresAStalledTrip(t *testing.T) {
	mr := miniredis.RunT(t) // its TIME reads the host clock: no true skew
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	const stall = 500 * time.Millisecond
	client := &stallingTime{Cmdable: rdb, stall: stall, lag: 20 * time.Millisecond}
	c := newRedisClock(time.Now, 1)
	before := time.Now()
	base, skew, err := c.sample(context.Background(), client)
	require.NoError(t, err)
	assert.Equal(t, clockSamples, client.calls)
	assert.True(t, base.ok)
	assert.False(t, base.server.Before(before.Add(stall).Truncate(time.Microsecond)), "the stalled sample read late")
	assert.Less(t, base.local.Sub(before), stall+client.lag, "the stalled sample is the tightest bound")
	// The stalled trip's midpoint is stall/2 before the server's reading.
	assert.Less(t, skew.Abs(), stall/5, "skew %v", skew)
}
