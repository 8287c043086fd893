package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// roundTrips is a go-redis hook that counts round trips to Redis: one per
// command, one per pipeline (a pipeline is written and read back in one
// exchange). A script call that falls back from EVALSHA to EVAL counts two,
// as it should. The handshake of a new connection (HELLO, SELECT, CLIENT
// SETNAME, CLIENT SETINFO), which go-redis sends through the same hooks, is
// not counted: it is per connection, not per operation. Safe for
// concurrent use.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) load() int64 { return h.n.Load() }

// DialHook is part of redis.Hook; dialing is not a round trip of an
// operation.
func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook counts one round trip per command.
func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd) {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook counts one round trip per pipeline.
func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if !handshake(cmd) {
				h.n.Add(1)
				break
			}
		}
		return next(ctx, cmds)
	}
}

// handshake reports whether cmd is one go-redis sends to set up a new
// connection.
func handshake(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "auth", "select", "client", "readonly":
		return true
	}
	return false
}

// client is a go-redis client to one database with its round-trip counter.
type client struct {
	*redis.Client
	rt *roundTrips
}

// dial returns a client to database db of the server at url, named name
// (CLIENT SETNAME, so that SLOWLOG entries can be told apart from other
// users of the same server), with a connection pool of poolSize.
func dial(ctx context.Context, url string, db int, name string, poolSize int) (*client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("-redis %q: %w", url, err)
	}
	opt.DB = db
	opt.ClientName = name
	opt.PoolSize = poolSize
	opt.ContextTimeoutEnabled = true
	c := &client{Client: redis.NewClient(opt), rt: &roundTrips{}}
	c.AddHook(c.rt)
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("redis at %s db %d: %w", opt.Addr, db, err)
	}
	return c, nil
}

// claimDB makes sure database db is the benchmark's to use: empty, or
// flushed when flush is set. It never touches a database that holds data
// unless told to.
func claimDB(ctx context.Context, c *client, flush bool) error {
	n, err := c.DBSize(ctx).Result()
	if err != nil {
		return err
	}
	if n > 0 && !flush {
		return fmt.Errorf("database %d holds %d keys: choose another database with -kit-db/-asynq-db, or pass -flush-first if it is yours", c.Options().DB, n)
	}
	return c.FlushDB(ctx).Err()
}

// infoField returns a field of INFO section as an integer.
func infoField(ctx context.Context, c *client, section, field string) (int64, error) {
	s, err := c.Info(ctx, section).Result()
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(s, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO %s has no %s", section, field)
}

// usedMemory is INFO memory's used_memory: bytes allocated by Redis, for
// every database of the server.
func usedMemory(ctx context.Context, c *client) (int64, error) {
	return infoField(ctx, c, "memory", "used_memory")
}

// memoryByType is MEMORY USAGE summed over the keys of a database, in
// bytes, by the keys' Redis type ("hash", "zset", ...).
type memoryByType map[string]int64

func (m memoryByType) total() int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// dbMemoryUsage sums MEMORY USAGE (SAMPLES 0: exact, every element
// counted) over every key of c's database, by key type. Unlike the INFO
// delta it cannot be disturbed by other clients writing to other databases
// of the server.
func dbMemoryUsage(ctx context.Context, c *client) (memoryByType, error) {
	byType := memoryByType{}
	it := c.Scan(ctx, 0, "*", 1000).Iterator()
	batch := make([]string, 0, 1000)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		usage := make([]*redis.IntCmd, len(batch))
		types := make([]*redis.StatusCmd, len(batch))
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range batch {
				usage[i] = p.MemoryUsage(ctx, k, 0)
				types[i] = p.Type(ctx, k)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) { // a key expired meanwhile
			return err
		}
		for i, cmd := range usage {
			if cmd.Err() == nil {
				byType[types[i].Val()] += cmd.Val()
			}
		}
		batch = batch[:0]
		return nil
	}
	for it.Next(ctx) {
		batch = append(batch, it.Val())
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	return byType, flush()
}

// serverInfo describes the Redis server for the report header.
type serverInfo struct {
	Addr    string `json:"addr"`
	Version string `json:"version"`
}

func describeServer(ctx context.Context, c *client) (serverInfo, error) {
	s, err := c.Info(ctx, "server").Result()
	if err != nil {
		return serverInfo{}, err
	}
	info := serverInfo{Addr: c.Options().Addr}
	for line := range strings.SplitSeq(s, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			info.Version = v
		}
	}
	return info, nil
}
