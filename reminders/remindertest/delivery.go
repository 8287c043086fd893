package remindertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// deliversFields: the handler gets what was scheduled, attempt 1.
func (s suite) deliversFields(t *testing.T) {
	rec := newRecorder(nil)
	sch := s.newScheduler(t, rec)
	payload := make([]byte, 256) // every byte value: the payload is opaque
	for i := range payload {
		payload[i] = byte(i)
	}
	due := time.UnixMilli(time.Now().Add(-time.Second).UnixMilli())
	r := reminders.Reminder{ID: "appointment:42", Kind: "appointments.send_reminder", DueAt: due, Payload: payload}
	s.schedule(t, sch, r)

	d := rec.waitN(t, 1)[0]
	assert.Equal(t, r.ID, d.ID)
	assert.Equal(t, r.Kind, d.Kind)
	assert.Equal(t, r.Payload, d.Payload)
	assert.Equal(t, due.UnixMilli(), d.DueAt.UnixMilli(), "DueAt, in Unix ms")
	assert.Equal(t, 1, d.Attempt)
	s.assertStays(t, rec, 1)
}

// emptyPayloadIsNil: an empty payload, nil or not, is delivered as nil on
// every backend (Redis stores no difference between the two).
func (s suite) emptyPayloadIsNil(t *testing.T) {
	rec := newRecorder(nil)
	sch := s.newScheduler(t, rec)
	s.schedule(t, sch, reminders.Reminder{ID: "empty", Kind: "k", DueAt: time.Now(), Payload: []byte{}})
	s.schedule(t, sch, reminders.Reminder{ID: "nil", Kind: "k", DueAt: time.Now()})
	for _, d := range rec.waitN(t, 2) {
		assert.Nil(t, d.Payload, d.ID)
	}
}

// pastDueIsDeliveredAtOnce: a DueAt in the past means "as soon as
// possible", not "never" and not "next poll".
func (s suite) pastDueIsDeliveredAtOnce(t *testing.T) {
	rec := newRecorder(nil)
	sch := s.newScheduler(t, rec)
	s.schedule(t, sch, reminders.Reminder{ID: "past", Kind: "k", DueAt: time.Now().Add(-time.Hour)})
	if s.caps.Synchronous {
		require.Equal(t, 1, rec.len(), "delivered before Schedule returned")
	}
	assert.Equal(t, "past", rec.waitN(t, 1)[0].ID)
}

// subMillisecondDueAt: due times are kept in milliseconds and rounded up,
// so the DueAt delivered is never before the one scheduled, and less than
// a millisecond after it.
func (s suite) subMillisecondDueAt(t *testing.T) {
	rec := newRecorder(nil)
	sch := s.newScheduler(t, rec)
	due := time.UnixMilli(time.Now().Add(-time.Second).UnixMilli()).Add(300 * time.Microsecond)
	s.schedule(t, sch, reminders.Reminder{ID: "sub-ms", Kind: "k", DueAt: due})
	d := rec.waitN(t, 1)[0]
	assert.False(t, d.DueAt.Before(due), "delivered DueAt %s is before the scheduled %s", d.DueAt, due)
	assert.Less(t, d.DueAt.Sub(due), time.Millisecond)
}

// notBeforeDueAt: a storing backend never hands a reminder to a handler
// before its DueAt; the eager one runs it inside Schedule by contract.
func (s suite) notBeforeDueAt(t *testing.T) {
	rec := newRecorder(nil)
	sch := s.newScheduler(t, rec)
	due := time.Now().Add(300 * time.Millisecond)
	s.schedule(t, sch, reminders.Reminder{ID: "soon", Kind: "k", DueAt: due})
	if s.caps.Synchronous {
		require.Equal(t, 1, rec.len(), "the eager scheduler delivers inside Schedule, whatever DueAt")
		assert.True(t, rec.at(0).Before(due))
		return
	}
	rec.waitN(t, 1)
	at := rec.at(0)
	assert.False(t, at.Before(due), "handler called at %s, %s before DueAt", at.Format(time.RFC3339Nano), due.Sub(at))
	s.assertStays(t, rec, 1)
}

// rescheduleReplaces: the ID is the idempotency key. A storing backend
// replaces a pending reminder, so only the latest version is delivered,
// once, with attempts starting again at 1; the eager scheduler has nothing
// pending and delivers each version as it is scheduled.
func (s suite) rescheduleReplaces(t *testing.T) {
	rec := newRecorder(nil)
	sch := s.newScheduler(t, rec)
	first := reminders.Reminder{ID: "same", Kind: "old", DueAt: time.Now().Add(time.Second), Payload: []byte("v1")}
	second := reminders.Reminder{ID: "same", Kind: "new", DueAt: time.Now().Add(200 * time.Millisecond), Payload: []byte("v2")}
	s.schedule(t, sch, first)
	s.schedule(t, sch, second)
	if s.caps.Synchronous {
		got := rec.waitN(t, 2)
		assert.Equal(t, []string{"v1", "v2"}, []string{string(got[0].Payload), string(got[1].Payload)})
		return
	}
	d := rec.waitN(t, 1)[0]
	assert.Equal(t, "new", d.Kind)
	assert.Equal(t, []byte("v2"), d.Payload)
	assert.Equal(t, 1, d.Attempt)
	// Past the first version's DueAt, it has still not been delivered.
	time.Sleep(time.Until(first.DueAt))
	s.assertStays(t, rec, 1)
}

// concurrentSchedules: goroutines scheduling at once; each reminder is
// delivered, and (its handler succeeding) exactly once.
func (s suite) concurrentSchedules(t *testing.T) {
	const goroutines, each = 8, 25
	rec := newRecorder(nil)
	sch := s.newScheduler(t, rec)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := reminders.Reminder{ID: fmt.Sprintf("c:%d:%d", g, i), Kind: "k", DueAt: time.Now()}
				if err := sch.Schedule(ctx, r); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got := rec.waitN(t, goroutines*each)
	seen := make(map[string]int)
	for _, d := range got {
		seen[d.ID]++
	}
	assert.Len(t, seen, goroutines*each)
	for id, n := range seen {
		assert.Equal(t, 1, n, "deliveries of %q", id)
	}
	s.assertStays(t, rec, goroutines*each)
}
