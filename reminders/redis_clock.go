package reminders

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// clockRefresh is how often a worker measures Redis time again. Between
// measurements it counts on the local monotonic clock, which drifts from
// the Redis host's by parts per million.
const clockRefresh = 30 * time.Second

// clockSamples is how many TIME round trips one measurement takes; the
// tightest of their lower bounds wins.
const clockSamples = 3

// maxDrift is how much faster than the Redis host's clock the local
// monotonic clock may run, as a fraction: 100 ppm, two free-running quartz
// clocks of ±50 ppm each (NTP keeps disciplined ones within a few ppm).
// Elapsed time is counted short by it, so that drift makes the worker late
// (by at most 3ms over clockRefresh), never early.
const maxDrift = 1e-4

// skewReport is the difference between the host's wall clock and Redis
// TIME beyond which a worker logs a warning (see worker.reportSkew).
const skewReport = time.Second

// redisClock tells the Redis server time of each shard: in a Redis Cluster
// each shard's master has its own clock, and its due and lease times are
// judged by it.
//
// A sample reads the local monotonic clock just after a TIME call returns
// (t1): the server read its clock before t1, so at t1 it reads at least
// what TIME returned, however long the round trip. From there the worker
// counts time on the local monotonic clock (time.Since), never on the wall
// clock, so a wall clock stepped by NTP moves nothing: the estimate is a
// lower bound of Redis time, and errs late by the round trip, never early.
// (The claim script also checks it against TIME: see checkEstimate.)
//
// The injected wall clock (WithClock) is read only at measurement time,
// to report a host whose clock differs from Redis (skew).
type redisClock struct {
	wall func() time.Time

	mu         sync.RWMutex
	bases      []clockBase // per shard
	measuredAt time.Time   // time.Now of the last measurement (monotonic)
	forced     bool        // measure at the next turn, whatever its age
	asked      int         // remeasure calls so far (see measure)
}

// clockBase is a lower bound of one server's clock at a local instant.
type clockBase struct {
	server time.Time // what TIME returned
	local  time.Time // time.Now (monotonic) just after it returned
	ok     bool
}

// at is the lower bound of the server's clock at the local instant now.
func (b clockBase) at(now time.Time) time.Time {
	elapsed := now.Sub(b.local) // monotonic: immune to wall clock steps
	return b.server.Add(elapsed - time.Duration(float64(elapsed)*maxDrift))
}

func newRedisClock(wall func() time.Time, shards int) *redisClock {
	return &redisClock{wall: wall, bases: make([]clockBase, shards)}
}

// stale reports whether Redis time needs measuring: never measured, older
// than clockRefresh, or forced (see remeasure).
func (c *redisClock) stale() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.forced || c.measuredAt.IsZero() || time.Since(c.measuredAt) >= clockRefresh
}

// remeasure makes the next turn measure again: after a Redis error (the
// server may have failed over to a replica with another clock) or when a
// claim found Redis time behind the estimate.
func (c *redisClock) remeasure() {
	c.mu.Lock()
	c.forced = true
	c.asked++
	c.mu.Unlock()
}

// ready reports whether some shard has been measured: the worker serves
// the shards that have, and measures the others again (see measure).
func (c *redisClock) ready() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, b := range c.bases {
		if b.ok {
			return true
		}
	}
	return false
}

// measured reports whether shard sh has been measured: nothing can be
// claimed from it before.
func (c *redisClock) measured(sh int) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.bases[sh].ok
}

// measure takes Redis time again: once per cluster master (each shard takes
// its master's), once for any other client.
//
// The masters are sampled concurrently, and one that fails or hangs costs
// only its own shards: the others take their new measurement, while the
// failed ones keep their previous one (none, before the first), and the
// result carries the first error, so that the measurement stays due and
// is tried again after a backoff. A worker started while a master is down
// so serves the shards of the masters that answer.
func (c *redisClock) measure(ctx context.Context, client redis.UniversalClient, keys []shardKeys) measureResult {
	c.mu.RLock()
	asked := c.asked
	c.mu.RUnlock()
	next := make([]clockBase, len(keys)) // zero, not ok: not measured
	var res measureResult
	if cluster, ok := client.(*redis.ClusterClient); ok {
		res = c.sampleMasters(ctx, cluster, keys, next)
	} else {
		var b clockBase
		if b, res.skew, res.err = c.sample(ctx, client); res.err == nil {
			res.some = true
			for i := range next {
				next[i] = b
			}
		}
	}
	c.store(asked, next, res.err == nil)
	return res
}

// sampleMasters samples each master of a cluster once, concurrently, and
// sets next[i] for each shard i whose master answered.
func (c *redisClock) sampleMasters(ctx context.Context, cluster *redis.ClusterClient, keys []shardKeys, next []clockBase) measureResult {
	type master struct {
		node *redis.Client
		base clockBase
		skew time.Duration
		err  error
	}
	var masters []*master
	byAddr := make(map[string]*master)
	of := make([]*master, len(keys)) // nil: no master known
	var firstErr error
	for i, k := range keys {
		node, err := cluster.MasterForKey(ctx, k.due)
		if err != nil {
			firstErr = cmp.Or(firstErr, unavailable(err))
			continue
		}
		m := byAddr[node.Options().Addr]
		if m == nil {
			m = &master{node: node}
			byAddr[node.Options().Addr] = m
			masters = append(masters, m)
		}
		of[i] = m
	}
	var wg sync.WaitGroup
	for _, m := range masters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.base, m.skew, m.err = c.sample(ctx, m.node)
		}()
	}
	wg.Wait()
	res := measureResult{err: firstErr}
	for _, m := range masters {
		switch {
		case m.err != nil:
			res.err = cmp.Or(res.err, m.err)
		case !res.some || m.skew.Abs() > res.skew.Abs():
			res.skew, res.some = m.skew, true
		}
	}
	for i, m := range of {
		if m != nil && m.err == nil {
			next[i] = m.base
		}
	}
	return res
}

// store takes in a measurement: next[i] is shard i's, when ok (the other
// shards keep theirs). Only a complete one, every shard measured, counts
// as fresh for stale; asked is the remeasure count when it began.
func (c *redisClock) store(asked int, next []clockBase, complete bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, b := range next {
		if b.ok {
			c.bases[i] = b
		}
	}
	if complete {
		c.measuredAt = time.Now()
		// A remeasure asked for while this one ran is not answered by it.
		c.forced = c.forced && c.asked != asked
	}
}

// sample measures one server: the tightest lower bound of clockSamples
// TIME calls, and the skew of the wall clock (for the report only): server
// minus the wall clock's midpoint of the shortest round trip, which the
// server read TIME within, so the skew is off by at most half that trip.
// (The tightest bound may come from a trip that stalled before the server
// read its clock, whose midpoint would be far off.)
func (c *redisClock) sample(ctx context.Context, client redis.Cmdable) (clockBase, time.Duration, error) {
	var best clockBase
	var skew, shortest time.Duration
	for i := 0; i < clockSamples; i++ {
		t0, w0 := time.Now(), c.wall()
		server, err := client.Time(ctx).Result()
		t1, w1 := time.Now(), c.wall()
		if err != nil {
			return clockBase{}, 0, unavailable(fmt.Errorf("TIME: %w", err))
		}
		b := clockBase{server: server, local: t1, ok: true}
		// Each sample is a true lower bound; the latest one read at a
		// common instant is the tightest.
		if !best.ok || best.at(t1).Before(server) {
			best = b
		}
		if trip := t1.Sub(t0); i == 0 || trip < shortest {
			shortest = trip
			skew = server.Sub(w0.Add(w1.Sub(w0) / 2))
		}
	}
	return best, skew, nil
}

// now is the earliest the shard's Redis clock can read now.
func (c *redisClock) now(shard int) time.Time {
	c.mu.RLock()
	b := c.bases[shard]
	c.mu.RUnlock()
	return b.at(time.Now())
}

// nowMillis is now(shard) in Unix ms, rounded down (conservative).
func (c *redisClock) nowMillis(shard int) int64 {
	return c.now(shard).UnixMilli()
}

// until is how long to wait, by the local monotonic clock, until the
// shard's Redis clock surely reads at least ms: a little longer than the
// difference, since now counts elapsed time short by maxDrift.
func (c *redisClock) until(shard int, ms int64) time.Duration {
	d := time.UnixMilli(ms).Sub(c.now(shard))
	if d <= 0 || d > time.Hour { // far waits are cut to pollCap by callers
		return d
	}
	return d + time.Duration(float64(d)*maxDrift/(1-maxDrift)) + time.Microsecond
}

// maxClockLag is how far the estimate of Redis time may trail the TIME
// that the claim script reads before the worker measures again: the
// estimate trails by a round trip or two by design (see redisClock), so
// more means that the server's clock moved (a failover to a master whose
// clock is ahead), and the worker would be late by the difference.
const maxClockLag = time.Second

// checkEstimate compares the estimate a claim was made with (now, ms) with
// the TIME the claim script read (server, ms), and has the clock measured
// again at the next turn when they disagree. An estimate ahead of the
// server did no harm (the script looks only as far as its TIME) but would
// wake the worker early for reminders not yet due.
func (w *worker) checkEstimate(ctx context.Context, sh int, now int64, server string) {
	ms, err := strconv.ParseInt(server, 10, 64)
	switch {
	case err != nil:
		return
	case ms < now:
		w.clock.remeasure()
		w.log.LogAttrs(ctx, slog.LevelWarn, "reminders: Redis time is behind the worker's estimate (a failover?); measuring again",
			slog.Int("shard", sh), slog.Duration("ahead_by", time.Duration(now-ms)*time.Millisecond))
	case ms-now > maxClockLag.Milliseconds():
		w.clock.remeasure()
		w.log.LogAttrs(ctx, slog.LevelInfo, "reminders: Redis time is ahead of the worker's estimate (a failover?); measuring again",
			slog.Int("shard", sh), slog.Duration("behind_by", time.Duration(ms-now)*time.Millisecond))
	}
}

// reportSkew logs, at WARN, when the host's wall clock (WithClock) comes to
// differ from Redis TIME by more than skewReport, and at INFO when it
// agrees again. Due times follow Redis whatever the host clock says; a
// skewed host clock is still worth fixing, for everything else on it.
func (w *worker) reportSkew(ctx context.Context, skew time.Duration) {
	skewed := skew.Abs() > skewReport
	if skewed == w.skewed {
		return
	}
	w.skewed = skewed
	if skewed {
		w.log.LogAttrs(ctx, slog.LevelWarn, "reminders: the host clock differs from Redis TIME; due times follow Redis",
			slog.Duration("redis_minus_host", skew))
		return
	}
	w.log.LogAttrs(ctx, slog.LevelInfo, "reminders: the host clock agrees with Redis TIME again",
		slog.Duration("redis_minus_host", skew))
}
