package remindertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sytefy/kit/reminders"
)

// cancelUnknown: cancelling an ID that is neither pending nor in flight
// is ErrNotFound; a malformed ID is ErrInvalid, on every backend.
func (s suite) cancelUnknown(t *testing.T) {
	sch := s.newScheduler(t, newRecorder(nil))
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	assert.ErrorIs(t, sch.Cancel(ctx, "never-scheduled"), reminders.ErrNotFound)
	for _, id := range []string{"", strings.Repeat("x", reminders.MaxIDLen+1), "a\x00b", "\xff"} {
		assert.ErrorIs(t, sch.Cancel(ctx, id), reminders.ErrInvalid, "Cancel(%q): a malformed ID", id)
	}
}

// badInput: every bad reminder gets ErrInvalid naming the field, and never
// reaches the handler; input at the limits is accepted.
func (s suite) badInput(t *testing.T) {
	const maxPayload = 16
	rec := newRecorder(nil)
	sch := s.newScheduler(t, rec, reminders.WithMaxPayload(maxPayload))
	long := strings.Repeat("x", reminders.MaxIDLen+1)
	valid := reminders.Reminder{ID: "ok", Kind: "k", DueAt: time.Now(), Payload: []byte("{}")}
	with := func(f func(r *reminders.Reminder)) reminders.Reminder {
		r := valid
		f(&r)
		return r
	}
	tests := []struct {
		name  string
		r     reminders.Reminder
		field string
	}{
		{"EmptyID", with(func(r *reminders.Reminder) { r.ID = "" }), "ID"},
		{"LongID", with(func(r *reminders.Reminder) { r.ID = long }), "ID"},
		{"NewlineInID", with(func(r *reminders.Reminder) { r.ID = "a\nb" }), "ID"},
		{"DELInID", with(func(r *reminders.Reminder) { r.ID = "a\x7fb" }), "ID"},
		{"C1ControlInID", with(func(r *reminders.Reminder) { r.ID = "a\u0085b" }), "ID"},
		{"InvalidUTF8InID", with(func(r *reminders.Reminder) { r.ID = "a\xffb" }), "ID"},
		{"EmptyKind", with(func(r *reminders.Reminder) { r.Kind = "" }), "Kind"},
		{"LongKind", with(func(r *reminders.Reminder) { r.Kind = long }), "Kind"},
		{"NULInKind", with(func(r *reminders.Reminder) { r.Kind = "a\x00b" }), "Kind"},
		{"ZeroDueAt", with(func(r *reminders.Reminder) { r.DueAt = time.Time{} }), "DueAt"},
		// Past what int64 Unix ms hold (year 292 million), UnixMilli wraps
		// to a time long past: such a reminder must not be due at once.
		{"FarFutureDueAt", with(func(r *reminders.Reminder) { r.DueAt = time.Date(300_000_000, 1, 1, 0, 0, 0, 0, time.UTC) }), "DueAt"},
		{"FarPastDueAt", with(func(r *reminders.Reminder) { r.DueAt = time.Date(-300_000_000, 1, 1, 0, 0, 0, 0, time.UTC) }), "DueAt"},
		// Past 2^53 ms, a Lua number or sorted-set score rounds it.
		{"DueAtPastDoublePrecision", with(func(r *reminders.Reminder) { r.DueAt = time.UnixMilli(1 << 53) }), "DueAt"},
		{"PayloadOverLimit", with(func(r *reminders.Reminder) { r.Payload = make([]byte, maxPayload+1) }), "Payload"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for _, tc := range tests {
		err := sch.Schedule(ctx, tc.r)
		if assert.ErrorIs(t, err, reminders.ErrInvalid, tc.name) {
			assert.Contains(t, err.Error(), tc.field, "%s: the message names the field", tc.name)
		}
	}

	atLimits := with(func(r *reminders.Reminder) {
		r.ID, r.Kind, r.Payload = long[1:], long[1:], make([]byte, maxPayload)
	})
	s.schedule(t, sch, atLimits)
	got := rec.waitN(t, 1)
	assert.Equal(t, atLimits.ID, got[0].ID, "only the valid reminder reaches the handler")
	s.assertStays(t, rec, 1)
}

// contextEnded: a context that already ended stops Schedule with an error
// wrapping ErrUnavailable, and the handler never runs.
func (s suite) contextEnded(t *testing.T) {
	rec := newRecorder(nil)
	sch := s.newScheduler(t, rec)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := sch.Schedule(ctx, reminders.Reminder{ID: "late", Kind: "k", DueAt: time.Now()})
	assert.ErrorIs(t, err, reminders.ErrUnavailable)
	s.assertStays(t, rec, 0)
}
