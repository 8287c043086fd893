package reminders

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestShardClocksWakeArgs: what a schedule call asks of the script, from
// the shard's Redis time measurement: measure (and look at the head) with
// none, an old one or after a failure; skip the head only for a batch due
// beyond the horizon by a fresh one.
func TestShardClocksWakeArgs(t *testing.T) {
	const wake = "p:wake"
	c := make(shardClocks, 2)
	redisNow := time.Now().Add(90 * time.Second).UnixMilli() // a server clock ahead of ours
	horizon := wakeHorizon.Milliseconds()

	ch, measure := c.wakeArgs(wake, 0, redisNow+10*horizon)
	assert.Equal(t, [2]string{wake, "1"}, [2]string{ch, measure}, "no measurement yet")

	c.record(0, []any{int64(1), "garbage"})
	c.record(0, int64(1)) // a reply without TIME
	assert.Nil(t, c[0].Load(), "replies without a readable TIME are ignored")

	c.record(0, []any{int64(1), strconv.FormatInt(redisNow, 10)})
	for _, tc := range []struct {
		earliest    int64
		ch, measure string
		why         string
	}{
		{redisNow + horizon + 1000, "", "", "beyond the horizon by Redis time"},
		{redisNow + horizon - 1000, wake, "", "within it"},
		{time.Now().Add(wakeHorizon + 10*time.Second).UnixMilli(), wake, "", "beyond it by the local clock only"},
	} {
		ch, measure := c.wakeArgs(wake, 0, tc.earliest)
		assert.Equal(t, [2]string{tc.ch, tc.measure}, [2]string{ch, measure}, tc.why)
	}
	ch, measure = c.wakeArgs(wake, 1, redisNow+10*horizon)
	assert.Equal(t, [2]string{wake, "1"}, [2]string{ch, measure}, "each shard has its own")

	c[0].Store(&redisTime{ms: redisNow, at: time.Now().Add(-horizonRemeasure - time.Second)})
	ch, measure = c.wakeArgs(wake, 0, redisNow+10*horizon)
	assert.Equal(t, [2]string{wake, "1"}, [2]string{ch, measure}, "too old")

	c.record(0, []any{int64(1), strconv.FormatInt(redisNow, 10)})
	c.forget(0)
	ch, measure = c.wakeArgs(wake, 0, redisNow+10*horizon)
	assert.Equal(t, [2]string{wake, "1"}, [2]string{ch, measure}, "forgotten after a failed call")
}
