package reminders

import (
	"context"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
)

// txMax and txMaxBytes bound the batches ScheduleMany stores in MULTI/EXEC
// transactions, in reminders and in payload bytes. A transaction runs
// whole, so these bound how long Redis serves nobody else: about 3 ms for
// 1,024 reminders on a 2-core host. A larger batch goes in script calls of
// at most scheduleChunk reminders instead, between which Redis serves
// other clients.
const (
	txMax      = 1024
	txMaxBytes = scheduleChunkBytes
)

// fitsTx reports whether rs, of two reminders or more, is stored in one
// transaction per Redis node (scheduleTx) rather than in script calls.
func fitsTx(rs []Reminder) bool {
	if len(rs) > txMax {
		return false
	}
	size := 0
	for _, r := range rs {
		size += len(r.Payload)
	}
	return size <= txMaxBytes
}

var scheduleTail = readScript("schedule_tail")

// txParallel bounds the shards' transactions one ScheduleMany runs at
// once, each on its own connection.
const txParallel = 8

// scheduleTx stores a batch, split by shard, in one MULTI/EXEC transaction
// per shard (scheduleShardTx), the shards' at the same time: one round
// trip per shard, each in one Redis Cluster slot, as a transaction must be
// (go-redis refuses one that spans slots). It returns the first error, in
// shard order; the other shards' reminders may be stored. A panic on a
// shard's goroutine (a go-redis hook's, the observer's, the logger's) is
// raised again on the caller's once every shard is done, as it would be
// from a lone Schedule, instead of crashing the process; a goroutine that
// exits (runtime.Goexit) fails its shard with ErrUnavailable.
func (s *RedisScheduler) scheduleTx(ctx context.Context, byShard [][]Reminder, total int) error {
	errs := make([]error, len(byShard))
	panics := make([]any, len(byShard)) // recover is never nil: panic(nil) is a *runtime.PanicNilError (Go 1.21 on)
	var wg sync.WaitGroup
	sem := make(chan struct{}, txParallel)
	for sh, list := range byShard {
		if len(list) == 0 {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			returned := false
			defer func() {
				if v := recover(); v != nil {
					panics[sh] = v
				} else if !returned {
					errs[sh] = errGoexit
				}
				<-sem
				wg.Done()
			}()
			errs[sh] = s.scheduleShardTx(ctx, sh, list)
			returned = true
		}()
	}
	wg.Wait()
	for _, v := range panics {
		if v != nil {
			panic(v)
		}
	}
	for _, err := range errs {
		if err != nil {
			err = unavailable(err)
			s.opts.logger.LogAttrs(ctx, slog.LevelWarn, "reminders: schedule failed",
				slog.Int("reminders", total), slog.Any("error", err))
			return err
		}
	}
	return nil
}

// scheduleShardTx stores the reminders of one shard in one MULTI/EXEC
// transaction: the writes of schedule.lua's slow path, unconditionally
// (HSET of the records and of their kinds, one ZADD per due bucket and
// one ZADD LT of the buckets' heads, then ZREM from the old due key and
// the lease and dead sets and HDEL of the last errors: replacing a
// reminder in flight or dead drops its lease or dead entry), then, when a
// wake-up or a clock measurement is due, one small script
// (schedule_tail.lua). A transaction cannot look at what it replaces, so
// a reminder it moves later leaves its bucket's head too low (schedule.lua
// sets such heads again); the next claim sets it (claim.lua visits up to
// 256 heads a call). A transaction, unlike a script, does not copy every
// record into Lua and back: for a batch of 500 it costs Redis about a
// quarter less than the same writes in a script. It is atomic, so a
// concurrent Cancel, claim or Schedule of an ID sees it stored whole or
// not at all; run twice (go-redis resending after a lost reply), it
// writes the same records again.
func (s *RedisScheduler) scheduleShardTx(ctx context.Context, sh int, list []Reminder) error {
	k := s.keys[sh]
	b := newBatch(list)
	recs := make([]any, 0, 2*len(list))
	ids := make([]any, len(list))
	fields := make([]string, len(list))
	for i, r := range list {
		recs = append(recs, r.ID, encodeRecord(r, b.ref(i)))
		ids[i], fields[i] = r.ID, r.ID
	}
	kinds := make([]any, 0, 2*len(b.kinds))
	for i, kind := range b.kinds {
		kinds = append(kinds, b.kindRefs[i], kind)
	}
	heads := make([]redis.Z, len(b.groups))
	var tail *redis.Cmd
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k.rec, recs...)
		p.HSet(ctx, k.kinds, kinds...)
		for i, g := range b.groups {
			members := make([]redis.Z, len(g.members))
			for j, m := range g.members {
				members[j] = redis.Z{Score: float64(b.dues[m]), Member: list[m].ID}
			}
			p.ZAdd(ctx, k.bucket(g.bucket), members...)
			heads[i] = redis.Z{Score: float64(g.earliest), Member: g.bucket}
		}
		p.ZAddLT(ctx, k.heads, heads...)
		p.ZRem(ctx, k.due, ids...)
		p.ZRem(ctx, k.lease, ids...)
		p.ZRem(ctx, k.dead, ids...)
		p.HDel(ctx, k.err, fields...)
		if channel, measure := s.clocks.wakeArgs(s.wake, sh, b.earliest); channel != "" || measure != "" {
			tail = p.Eval(ctx, scheduleTail, []string{k.heads}, channel, sh, b.earliest, measure)
		}
		return nil
	})
	if err != nil {
		s.clocks.forget(sh)
		return err
	}
	if tail != nil {
		if ms, ok := tail.Val().(string); ok {
			s.clocks.store(sh, ms)
		}
	}
	s.scheduled(ctx, sh, list)
	return nil
}
