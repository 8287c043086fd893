package reminders

import (
	"cmp"
	"encoding/base64"
	"errors"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"
)

// record is a decoded full record (the format is in scripts/lib.lua): the
// scripts that return records (claim, get, dead, requeue) return that
// form, so a pending reminder's compact record is never decoded here.
type record struct {
	version string
	attempt int
	due     int64 // Unix ms
	kind    string
	payload []byte
}

var errCorrupt = errors.New("corrupt")

// scheduleArgs are schedule.lua's ARGV for rs, all of one shard (see the
// script's header): each compact record is built here, with attempt 1,
// so the script only stores; the reminders go by due bucket, one ZADD per
// bucket. The wake channel and measure flag follow from the batch's
// earliest due time by the shard's Redis clock (shardClocks.wakeArgs).
func scheduleArgs(shard int, rs []Reminder, clocks shardClocks, wake string) []any {
	b := newBatch(rs)
	args := make([]any, 7, 7+4*len(rs)+2*len(b.kinds)+4*len(b.groups))
	for i, r := range rs {
		args = append(args, r.ID, encodeRecord(r, b.ref(i)))
	}
	for i, k := range b.kinds {
		args = append(args, b.kindRefs[i], k)
	}
	for _, g := range b.groups {
		args = append(args, g.bucket, len(g.members))
		for _, i := range g.members {
			args = append(args, b.dues[i], rs[i].ID)
		}
	}
	for _, g := range b.groups {
		args = append(args, g.earliest, g.bucket)
	}
	args[0], args[3] = clocks.wakeArgs(wake, shard, b.earliest)
	args[1], args[2], args[4], args[5], args[6] = shard, b.earliest, len(rs), len(b.kinds), len(b.groups)
	return args
}

// batch is what storing reminders of one shard needs besides the
// reminders: their due times (Unix ms), the distinct kinds with their
// refs (kindRef, computed once a kind), and the reminders by due bucket.
type batch struct {
	dues     []int64
	kindOf   []int // kindOf[i]: reminder i's index in kinds
	earliest int64
	kinds    []string
	kindRefs []string
	groups   []bucketGroup
}

// ref is reminder i's kind ref.
func (b *batch) ref(i int) string { return b.kindRefs[b.kindOf[i]] }

// bucketGroup is the reminders of a batch in one due bucket, by index, in
// batch order (the last of one ID wins, in ZADD as in HSET).
type bucketGroup struct {
	bucket   int
	earliest int64
	members  []int
}

func newBatch(rs []Reminder) batch {
	b := batch{dues: make([]int64, len(rs)), kindOf: make([]int, len(rs))}
	buckets := make([]int, len(rs))
	for i, r := range rs {
		b.dues[i] = dueMillis(r.DueAt)
		if i == 0 || b.dues[i] < b.earliest {
			b.earliest = b.dues[i]
		}
		k := slices.Index(b.kinds, r.Kind) // a batch has a few kinds
		if k < 0 {
			k = len(b.kinds)
			b.kinds = append(b.kinds, r.Kind)
			b.kindRefs = append(b.kindRefs, kindRef(r.Kind))
		}
		b.kindOf[i] = k
		buckets[i] = dueBucket(r.ID)
	}
	order := make([]int, len(rs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(buckets[x], buckets[y]) })
	for _, i := range order {
		if n := len(b.groups); n == 0 || b.groups[n-1].bucket != buckets[i] {
			b.groups = append(b.groups, bucketGroup{bucket: buckets[i], earliest: b.dues[i]})
		}
		g := &b.groups[len(b.groups)-1]
		g.members = append(g.members, i)
		g.earliest = min(g.earliest, b.dues[i])
	}
	return b
}

// kindRef is the kind ref of a Kind in compact records (scripts/lib.lua):
// the base64url form, 11 characters, of the Kind's 64-bit FNV-1a hash.
// Two Kinds with one ref in one shard would share a handler; the odds for
// a thousand Kinds are about 3 in 10^14.
func kindRef(kind string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(kind))
	var sum [8]byte
	return base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0]))
}

// encodeRecord is the compact record of r as scheduled (scripts/lib.lua):
// attempt 1 and the Kind's ref, whose hash entry the script writes.
func encodeRecord(r Reminder, ref string) []byte {
	b := make([]byte, 0, 5+len(ref)+len(r.Payload))
	b = append(b, "~1,"...)
	b = append(b, ref...)
	b = append(b, '\n')
	return append(b, r.Payload...)
}

// parseRecord decodes a stored record. It checks what the scripts check and
// more (the Kind's limits), so a record written by something else never
// reaches a handler.
func parseRecord(s string) (record, error) {
	var rec record
	field, s, ok := strings.Cut(s, ",")
	if !ok || !onlyDigits(field) {
		return rec, errCorrupt
	}
	// Kept even if the rest is corrupt: dead-lettering checks it. Any
	// length, as lib.lua's parse has it: a version the scripts accept must
	// reach them again, or the record would never be dead-lettered.
	rec.version = field
	if field, s, ok = strings.Cut(s, ","); !ok || !isDigits(field) {
		return rec, errCorrupt
	}
	n, err := strconv.Atoi(field)
	if err != nil || n < 1 {
		return rec, errCorrupt
	}
	rec.attempt = n
	if field, s, ok = strings.Cut(s, ","); !ok || !isInteger(field) {
		return rec, errCorrupt
	}
	if rec.due, err = strconv.ParseInt(field, 10, 64); err != nil || rec.due > maxDueMillis || rec.due < -maxDueMillis {
		return rec, errCorrupt // a due time Schedule refuses: not a record of ours
	}
	if rec.kind, s, ok = strings.Cut(s, "\n"); !ok || validName("Kind", rec.kind) != nil {
		return rec, errCorrupt
	}
	if s != "" {
		rec.payload = []byte(s)
	}
	return rec, nil
}

// isInteger accepts an optional '-' and digits: a DueAt before 1970 is
// stored as a negative Unix ms.
func isInteger(s string) bool {
	return isDigits(strings.TrimPrefix(s, "-"))
}

// isDigits accepts 1 to 19 digits: a number that fits an int64 or is
// refused by strconv.
func isDigits(s string) bool {
	return len(s) <= 19 && onlyDigits(s)
}

func onlyDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// reminder is the Reminder a record stores under id.
func (rec record) reminder(id string) Reminder {
	return Reminder{ID: id, Kind: rec.kind, DueAt: time.UnixMilli(rec.due).UTC(), Payload: rec.payload}
}
