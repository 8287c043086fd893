package reminders

import (
	"context"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// strayShardsChecked is how many shard indices past WithShards a worker
// looks at when it starts: a mismatch between instances is most often a
// small count against a larger one (1 against 4, 8 or 16).
const strayShardsChecked = 64

// checkStrayShards looks, once, for reminders stored under shard indices
// this scheduler does not have: another instance of the same key prefix
// was given a larger WithShards. No worker of this count delivers them,
// and Cancel or Get of this count does not find them, so it logs an error
// naming the shards. It reads only, in one pipeline of EXISTS (one round
// trip per node); a Redis it cannot reach is left to the worker's own
// retries.
func (s *RedisScheduler) checkStrayShards(ctx context.Context, log *slog.Logger) {
	n := len(s.keys)
	pipe := s.client.Pipeline()
	cmds := make([]*redis.IntCmd, strayShardsChecked)
	for i := range cmds {
		k := newShardKeys(s.opts.prefix, n+i)
		cmds[i] = pipe.Exists(ctx, k.heads, k.due, k.lease, k.dead)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return
	}
	var stray []int
	for i, c := range cmds {
		if c.Val() > 0 {
			stray = append(stray, n+i)
		}
	}
	if len(stray) > 0 {
		log.LogAttrs(ctx, slog.LevelError,
			"reminders: reminders are stored under shards this scheduler does not have; every instance of a key prefix must use the same WithShards, or these are never delivered",
			slog.Int("shards", n), slog.Any("stray_shards", stray))
	}
}
