package reminders

import (
	"fmt"
	"time"
	"unicode/utf8"
)

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
	if len(r.Payload) > maxPayload {
		return fmt.Errorf("%w: Payload is %d bytes, limit %d", ErrInvalid, len(r.Payload), maxPayload)
	}
	return nil
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
// never fires before its DueAt.
func dueMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	return ms
}
