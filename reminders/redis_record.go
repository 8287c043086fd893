package reminders

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// record is a decoded stored reminder (the format is in scripts/lib.lua).
type record struct {
	version string
	attempt int
	due     int64 // Unix ms
	kind    string
	payload []byte
}

var errCorrupt = errors.New("corrupt")

// scheduleArgs are schedule.lua's ARGV for rs, all of one shard (see the
// script's header): each record is built here, with attempt 1 and a new
// schedule version, so the script only stores. The wake channel and
// measure flag follow from the batch's earliest due time by the shard's
// Redis clock (shardClocks.wakeArgs).
func scheduleArgs(shard int, rs []Reminder, clocks shardClocks, wake string) []any {
	args := make([]any, 4, 4+4*len(rs))
	dues := make([]int64, len(rs))
	earliest := int64(0)
	for i, r := range rs {
		dues[i] = dueMillis(r.DueAt)
		if i == 0 || dues[i] < earliest {
			earliest = dues[i]
		}
		id := any(r.ID) // boxed once, used twice
		args = append(args, id, encodeRecord(r, dues[i]))
	}
	for i := range rs {
		args = append(args, dues[i], args[4+2*i])
	}
	args[0], args[3] = clocks.wakeArgs(wake, shard, earliest)
	args[1], args[2] = shard, earliest
	return args
}

// encodeRecord is the stored form of r, as first scheduled: the format is
// in scripts/lib.lua, the version '0' and a random number below 10^18.
func encodeRecord(r Reminder, due int64) []byte {
	b := make([]byte, 0, 48+len(r.Kind)+len(r.Payload))
	b = append(b, '0')
	b = strconv.AppendUint(b, rand.Uint64N(1e18), 10) // 19 digits at most, as parseRecord wants
	b = append(b, ",1,"...)
	b = strconv.AppendInt(b, due, 10)
	b = append(b, ',')
	b = append(b, r.Kind...)
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
