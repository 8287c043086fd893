package reminders

import (
	"hash/fnv"
	"strconv"
)

// Redis layout. Every key of one shard shares the hash tag {<prefix>:<shard>},
// so each script touches one Redis Cluster slot:
//
//	{reminders:0}:due    sorted set: ID → due time, Unix ms (pending reminders)
//	{reminders:0}:lease  sorted set: ID → lease deadline, Unix ms (in flight)
//	{reminders:0}:dead   sorted set: ID → time it died, Unix ms (dead letters)
//	{reminders:0}:rec    hash: ID → record (see scripts/lib.lua), for all three
//	{reminders:0}:err    hash: ID → last attempt's error, while there is one
//	{reminders:0}:seq    string: counter that versions the records
//
// and one pub/sub channel, reminders:wake, on which a script that makes a
// reminder due within a minute (wakeHorizon) the earliest of its shard
// publishes "<shard>:<due ms>".
//
// The prefix cannot hold '{', '}' or ':' (WithKeyPrefix checks), so the
// layout is unambiguous.

// shardKeys are the keys of one shard, in the order the scripts take them
// (see each script's KEYS header).
type shardKeys struct {
	due, rec, lease, dead, err, seq string
	list                            []string // all of them, for all
}

func newShardKeys(prefix string, shard int) shardKeys {
	tag := "{" + prefix + ":" + strconv.Itoa(shard) + "}:"
	k := shardKeys{
		due:   tag + "due",
		rec:   tag + "rec",
		lease: tag + "lease",
		dead:  tag + "dead",
		err:   tag + "err",
		seq:   tag + "seq",
	}
	k.list = []string{k.due, k.rec, k.lease, k.dead, k.err, k.seq}
	return k
}

// all is KEYS for the scripts, which take every key of the shard. The
// slice is shared: callers must not change it (go-redis copies it).
func (k shardKeys) all() []string { return k.list }

// wakeChannel is the pub/sub channel of a prefix. Classic pub/sub is used
// (not sharded SPUBLISH), as miniredis, Redis and Redis Cluster all carry it.
func wakeChannel(prefix string) string { return prefix + ":wake" }

// shardOf maps an ID to its shard: FNV-1a 64 of the ID, modulo n. It is
// part of the storage format: every process of one prefix must agree on it,
// so it never changes.
func shardOf(id string, n int) int {
	if n == 1 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum64() % uint64(n))
}
