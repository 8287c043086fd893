package reminders

import (
	"hash/fnv"
	"strconv"
)

// Redis layout. Every key of one shard shares the hash tag {<prefix>:<shard>},
// so each script touches one Redis Cluster slot:
//
//	{reminders:0}:due:<b>  sorted sets, b in 0..1020 (dueBucket): ID → due
//	                       time, Unix ms, for the pending reminders
//	{reminders:0}:heads    sorted set: b → a lower bound of bucket b's
//	                       earliest due time, for every bucket that may
//	                       hold a member
//	{reminders:0}:due      sorted set: ID → due time, as stored before the
//	                       buckets: still read and drained, never written
//	{reminders:0}:lease    sorted set: ID → lease deadline, Unix ms (in flight)
//	{reminders:0}:dead     sorted set: ID → time it died, Unix ms (dead letters)
//	{reminders:0}:rec      hash: ID → record (see scripts/lib.lua), for all three
//	{reminders:0}:err      hash: ID → last attempt's error, while there is one
//	{reminders:0}:seq      string: counter that versions the records
//	{reminders:0}:kinds    hash: kind ref → Kind (kindRef)
//	{reminders:0}:claim:<token>  string: what one claim call took, kept
//	                       until the worker's next call (at most a lease),
//	                       for a resend of that call (scripts/claim.lua)
//
// and one pub/sub channel, reminders:wake, on which a script that makes a
// reminder due within a minute (wakeHorizon) the earliest of its shard
// publishes "<shard>:<due ms>".
//
// The due index is split into buckets so that each stays small enough for
// Redis's listpack encoding (zset-max-listpack-entries, 128 by default):
// a pending reminder then costs its ID and score in a packed list, about
// 35 bytes, instead of a skiplist node and a dict entry, about 165. With
// 1021 buckets a shard stays packed up to about 100,000 pending reminders;
// past that, buckets turn into skiplists one by one, costing what one
// sorted set would, and more shards (WithShards) pack again. A bucket
// holding an ID longer than zset-max-listpack-value (64 bytes by default)
// is a skiplist too. The kinds hash keeps every Kind ever scheduled. The bucket
// and claim keys are not in the scripts' KEYS, which Redis's scripting
// docs ask for; they share the shard's hash tag, so every script still
// touches one slot.
//
// The prefix cannot hold '{', '}' or ':' (WithKeyPrefix checks), so the
// layout is unambiguous.

// shardKeys are the keys of one shard, in the order the scripts take them
// (see each script's KEYS header).
type shardKeys struct {
	due, rec, lease, dead, err, seq, heads, kinds string
	list                                          []string // all of them, for all
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
		heads: tag + "heads",
		kinds: tag + "kinds",
	}
	k.list = []string{k.due, k.rec, k.lease, k.dead, k.err, k.seq, k.heads, k.kinds}
	return k
}

// all is KEYS for the scripts, which take every key of the shard. The
// slice is shared: callers must not change it (go-redis copies it).
func (k shardKeys) all() []string { return k.list }

// bucket is the key of due bucket b.
func (k shardKeys) bucket(b int) string { return k.due + ":" + strconv.Itoa(b) }

// dueBuckets is the number of due buckets of a shard: a prime, so that
// dueBucket spreads IDs that differ in any byte. Part of the storage
// format, as dueBucket is.
const dueBuckets = 1021

// dueBucket is the due bucket of an ID: the ID read as a big-endian
// number, modulo dueBuckets. lib.lua's bucketOf computes the same in Lua,
// where every intermediate value (below 1021 × 256 + 256) is exact.
func dueBucket(id string) int {
	h := 0
	for i := 0; i < len(id); i++ {
		h = (h*256 + int(id[i])) % dueBuckets
	}
	return h
}

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
