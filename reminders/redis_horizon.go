package reminders

import (
	"strconv"
	"sync/atomic"
	"time"
)

const (
	// wakeHorizon: Schedule publishes a wake-up only for a reminder due
	// within this long of the shard's Redis clock. Every worker looks at
	// every shard at least once per pollCap, so one due later is found by
	// such a look long before it is due, and the script's look at the due
	// set's head (about a fifth of its Redis time) would be wasted on the
	// reminders most callers schedule, hours or days ahead.
	wakeHorizon = time.Minute
	// horizonRemeasure is how old a shard's Redis time measurement may get
	// before the next schedule call asks for TIME again (one more command
	// in one call of many). It bounds how long a measurement outlives a
	// change it cannot see: a failover to a master whose clock is more
	// than the horizon's slack (wakeHorizon - pollCap) ahead, or a step of
	// the server's clock. Until then a reminder due now may be taken for
	// a far one and found by a worker's next look: at most pollCap late,
	// never early.
	horizonRemeasure = 5 * time.Second
	// horizonClockGap: a measurement is also dropped when the local wall
	// clock and the monotonic clock disagree by this much about the time
	// since it was taken: the host was suspended (Linux's monotonic clock
	// stops meanwhile) or its clock was stepped.
	horizonClockGap = time.Second
)

// redisTime is one measurement of a shard's Redis clock: TIME, read by the
// schedule script, as Unix ms, and the local time its reply came back.
// The estimate it gives (ms plus the time elapsed since at) is behind the
// server's clock by up to a round trip, as TIME was read before the reply
// came back: a reminder due within that much of the horizon's end may go
// without a wake-up, and is found by a worker's next look, which comes
// long before it is due (see wakeHorizon).
type redisTime struct {
	ms int64
	at time.Time // carries the monotonic reading
}

// shardClocks holds the latest measurement of each shard, for Schedule's
// wake-up decision only; delivery has its own clock (workerClock). It is
// safe for concurrent use: each shard's measurement is replaced whole.
type shardClocks []atomic.Pointer[redisTime]

// wakeArgs are schedule.lua's wake channel and measure flag (ARGV[1] and
// ARGV[4]) for a call on shard whose earliest reminder is due at earliest
// (Unix ms). With no fresh measurement the script looks at the head, and
// reads TIME for the next calls.
func (c shardClocks) wakeArgs(wake string, shard int, earliest int64) (channel, measure string) {
	m := c[shard].Load()
	if m == nil {
		return wake, "1"
	}
	now := time.Now()
	elapsed := now.Sub(m.at) // monotonic
	if gap := now.Round(0).Sub(m.at.Round(0)) - elapsed; elapsed > horizonRemeasure || gap > horizonClockGap || gap < -horizonClockGap {
		return wake, "1"
	}
	if earliest > m.ms+elapsed.Milliseconds()+wakeHorizon.Milliseconds() {
		return "", ""
	}
	return wake, ""
}

// forget drops shard's measurement after a failed call: the server may
// have changed, and its clock with it.
func (c shardClocks) forget(shard int) { c[shard].Store(nil) }

// record takes in a schedule script's reply: the number stored, or, when
// asked to measure, that number and the server's TIME in Unix ms.
func (c shardClocks) record(shard int, reply any) {
	r, ok := reply.([]any)
	if !ok || len(r) != 2 {
		return
	}
	s, _ := r[1].(string)
	c.store(shard, s)
}

// store takes in the server's TIME in Unix ms, as a script formats it
// (schedule.lua, schedule_tail.lua); anything else is ignored.
func (c shardClocks) store(shard int, ms string) {
	if v, err := strconv.ParseInt(ms, 10, 64); err == nil {
		c[shard].Store(&redisTime{ms: v, at: time.Now()})
	}
}
