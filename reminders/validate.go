package reminders

import (
	"fmt"
	"reflect"
	"time"
	"unicode/utf8"
)

// maxDueMillis bounds Reminder.DueAt, in Unix milliseconds either side of
// 1970: 2^53-1, the largest integer a double holds exactly (Redis keeps
// sorted-set scores, and Lua its numbers, as doubles), about year 287,000.
// It also keeps time.UnixMilli, which wraps past year 292 million, honest.
const maxDueMillis = 1<<53 - 1

// validate checks r against the limits in the Reminder docs and returns an
// error wrapping ErrInvalid that names the field.
func validate(r Reminder, maxPayload int) error {
	if err := validName("ID", r.ID); err != nil {
		return err
	}
	if err := validName("Kind", r.Kind); err != nil {
		return err
	}
	if r.DueAt.IsZero() {
		return fmt.Errorf("%w: DueAt is zero", ErrInvalid)
	}
	if !dueInRange(r.DueAt) {
		return fmt.Errorf("%w: DueAt %s is out of range (Unix ms beyond ±(2^53-1), about year ±287,000)",
			ErrInvalid, r.DueAt.UTC().Format(time.RFC3339))
	}
	if len(r.Payload) > maxPayload {
		return fmt.Errorf("%w: Payload is %d bytes, limit %d", ErrInvalid, len(r.Payload), maxPayload)
	}
	return nil
}

// dueInRange reports whether t, in Unix ms rounded up, is within
// ±maxDueMillis. It compares seconds first: t.UnixMilli itself overflows
// (and wraps) for times past year 292 million.
func dueInRange(t time.Time) bool {
	const maxSecs = maxDueMillis / 1000
	if s := t.Unix(); s > maxSecs || s < -maxSecs-1 {
		return false
	}
	ms := dueMillis(t)
	return -maxDueMillis <= ms && ms <= maxDueMillis
}

func validName(field, s string) error {
	if len(s) == 0 {
		return fmt.Errorf("%w: %s is empty", ErrInvalid, field)
	}
	if len(s) > MaxIDLen {
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrInvalid, field, len(s), MaxIDLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, field)
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
			return fmt.Errorf("%w: %s has control character %U", ErrInvalid, field, c)
		}
	}
	return nil
}

// dueMillis is r.DueAt in Unix milliseconds, rounded up so that a reminder
// never fires before its DueAt. t must be in range (dueInRange).
func dueMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	return ms
}

// isNilValue reports whether v is nil or an interface holding a nil
// pointer, map, slice, func or channel: a typed nil such as
// (*redis.Client)(nil) passes a "v == nil" check and panics at first use.
func isNilValue(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
