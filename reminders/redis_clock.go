package reminders

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// clockRefresh is how often a worker measures its offset to Redis time
// again. Clocks drift by parts per million, so a minute costs microseconds.
const clockRefresh = 30 * time.Second

// clockSamples is how many TIME round trips one measurement takes; the one
// with the shortest round trip wins (its midpoint is the least uncertain).
const clockSamples = 3

// redisClock tells Redis server time from the local clock and a measured
// offset, per shard: in a Redis Cluster each shard's master has its own
// clock, and its due and lease times are judged by it.
//
// A sample brackets one TIME call between two local readings t0 and t1:
// the server read its clock somewhere in between, so server time at the
// local midpoint is TIME ± (t1-t0)/2. The worker uses the lower bound
// (serverNow), so that uncertainty can make it late, never early.
type redisClock struct {
	local func() time.Time

	mu         sync.RWMutex
	samples    []clockSample // per shard
	measuredAt time.Time     // of the last measurement (time.Now: monotonic)
}

type clockSample struct {
	offset time.Duration // server minus local
	slack  time.Duration // half the round trip, plus TIME's 1µs resolution
	ok     bool
}

func newRedisClock(local func() time.Time, shards int) *redisClock {
	return &redisClock{local: local, samples: make([]clockSample, shards)}
}

// stale reports whether the offsets need measuring (never measured, or
// older than clockRefresh).
func (c *redisClock) stale() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.measuredAt.IsZero() || time.Since(c.measuredAt) >= clockRefresh
}

// ready reports whether every shard has an offset.
func (c *redisClock) ready() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return !c.measuredAt.IsZero()
}

// measure takes the offsets again: once per cluster master (each shard
// takes its master's), once for any other client. On error the previous
// offsets are kept.
func (c *redisClock) measure(ctx context.Context, client redis.UniversalClient, keys []shardKeys) error {
	next := make([]clockSample, len(keys))
	cluster, isCluster := client.(*redis.ClusterClient)
	if !isCluster {
		s, err := c.sample(ctx, client)
		if err != nil {
			return err
		}
		for i := range next {
			next[i] = s
		}
	} else {
		byAddr := make(map[string]clockSample)
		for i, k := range keys {
			node, err := cluster.MasterForKey(ctx, k.due)
			if err != nil {
				return unavailable(err)
			}
			addr := node.Options().Addr
			s, seen := byAddr[addr]
			if !seen {
				if s, err = c.sample(ctx, node); err != nil {
					return err
				}
				byAddr[addr] = s
			}
			next[i] = s
		}
	}
	c.mu.Lock()
	c.samples = next
	c.measuredAt = time.Now()
	c.mu.Unlock()
	return nil
}

func (c *redisClock) sample(ctx context.Context, client redis.Cmdable) (clockSample, error) {
	var best clockSample
	for i := 0; i < clockSamples; i++ {
		t0 := c.local()
		server, err := client.Time(ctx).Result()
		t1 := c.local()
		if err != nil {
			return clockSample{}, unavailable(fmt.Errorf("TIME: %w", err))
		}
		rtt := t1.Sub(t0)
		if rtt < 0 { // a local clock that stepped back
			continue
		}
		s := clockSample{offset: server.Sub(t0.Add(rtt / 2)), slack: rtt/2 + time.Microsecond, ok: true}
		if !best.ok || s.slack < best.slack {
			best = s
		}
	}
	if !best.ok {
		return best, unavailable(fmt.Errorf("TIME: the local clock went backwards"))
	}
	return best, nil
}

// now is the earliest the shard's Redis clock can read now.
func (c *redisClock) now(shard int) time.Time {
	c.mu.RLock()
	s := c.samples[shard]
	c.mu.RUnlock()
	return c.local().Add(s.offset - s.slack)
}

// nowMillis is now(shard) in Unix ms, rounded down (conservative).
func (c *redisClock) nowMillis(shard int) int64 {
	return c.now(shard).UnixMilli()
}

// until is how long to wait, by the local monotonic clock, until the
// shard's Redis clock surely reads at least ms.
func (c *redisClock) until(shard int, ms int64) time.Duration {
	return time.UnixMilli(ms).Sub(c.now(shard))
}
