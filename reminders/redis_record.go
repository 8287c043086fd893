package reminders

import (
	"errors"
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

// encodeRecordArgs are the schedule script's 4 values for r (it adds the
// version and attempt 1).
func encodeRecordArgs(args []any, r Reminder) []any {
	payload := r.Payload
	if payload == nil {
		payload = []byte{}
	}
	return append(args, r.ID, dueMillis(r.DueAt), r.Kind, payload)
}

// parseRecord decodes a stored record. It checks what the scripts check and
// more (the Kind's limits), so a record written by something else never
// reaches a handler.
func parseRecord(s string) (record, error) {
	var rec record
	field, s, ok := strings.Cut(s, ",")
	if !ok || !isDigits(field) {
		return rec, errCorrupt
	}
	rec.version = field // kept even if the rest is corrupt: dead-lettering checks it
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
	if rec.due, err = strconv.ParseInt(field, 10, 64); err != nil {
		return rec, errCorrupt
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

func isDigits(s string) bool {
	if s == "" || len(s) > 19 {
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
