package main

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// payloadSize is the size of every reminder payload: 77 bytes, about what
// an appointment reminder carries (an appointment ID, a user ID, a time).
const payloadSize = 77

// The payload is JSON of fixed layout, so the handler reads it without a
// decoder: {"seq":"0000000042","due_unix_ns":1733000000000000000,"pad":"…"}
// (seq is a string because JSON numbers cannot have leading zeros; due
// has 19 digits from 2001 to 2262).
// seq numbers the reminders of a phase (to count duplicates); due is the
// intended due time in nanoseconds (to measure lateness the same way for
// both systems, whatever precision each keeps).
const (
	payloadHead = `{"seq":"`
	payloadMid  = `","due_unix_ns":`
	payloadPad  = `,"pad":"`
	payloadTail = `"}`
	seqDigits   = 10
	dueDigits   = 19
	seqAt       = len(payloadHead)
	dueAt       = seqAt + seqDigits + len(payloadMid)
	padLen      = payloadSize - dueAt - dueDigits - len(payloadPad) - len(payloadTail)
)

// encodePayload returns the 77-byte payload of reminder seq due at due.
func encodePayload(seq int, due time.Time) []byte {
	b := make([]byte, 0, payloadSize)
	b = append(b, payloadHead...)
	b = appendPadded(b, int64(seq), seqDigits)
	b = append(b, payloadMid...)
	b = appendPadded(b, due.UnixNano(), dueDigits)
	b = append(b, payloadPad...)
	for range padLen {
		b = append(b, 'x')
	}
	return append(b, payloadTail...)
}

func appendPadded(b []byte, v int64, width int) []byte {
	s := strconv.FormatInt(v, 10)
	for range width - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

// decodePayload reads seq and due back.
func decodePayload(p []byte) (seq int, due time.Time, err error) {
	if len(p) != payloadSize || string(p[:seqAt]) != payloadHead {
		return 0, time.Time{}, fmt.Errorf("payload %q is not a benchmark payload", p)
	}
	s, err := strconv.ParseInt(string(p[seqAt:seqAt+seqDigits]), 10, 64)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("payload seq: %w", err)
	}
	ns, err := strconv.ParseInt(string(p[dueAt:dueAt+dueDigits]), 10, 64)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("payload due: %w", err)
	}
	return int(s), time.Unix(0, ns), nil
}

// deliveries is the handler both systems run: it records, per delivery,
// its lateness (handler start minus the intended due time; negative is
// early) and whether the reminder was already delivered. It does no other
// work, so the figures are the scheduler's own. Safe for concurrent use.
type deliveries struct {
	seen       []atomic.Bool // by seq
	count      atomic.Int64  // first deliveries
	duplicates atomic.Int64
	bad        atomic.Int64 // payloads that did not decode
	want       int64
	done       chan struct{} // closed at the want-th first delivery

	mu   sync.Mutex
	late latencies
}

// newDeliveries expects reminders with seq 0..want-1.
func newDeliveries(want int) *deliveries {
	return &deliveries{
		seen: make([]atomic.Bool, want),
		want: int64(want),
		done: make(chan struct{}),
		late: make(latencies, 0, want),
	}
}

// handle is the handler body.
func (d *deliveries) handle(payload []byte) {
	now := time.Now()
	seq, due, err := decodePayload(payload)
	if err != nil || seq < 0 || seq >= len(d.seen) {
		d.bad.Add(1)
		return
	}
	if d.seen[seq].Swap(true) {
		d.duplicates.Add(1)
		return
	}
	d.mu.Lock()
	d.late = append(d.late, now.Sub(due))
	d.mu.Unlock()
	if d.count.Add(1) == d.want {
		close(d.done)
	}
}

// wait blocks until every expected reminder was delivered or limit passed,
// and reports which.
func (d *deliveries) wait(limit time.Duration) bool {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-d.done:
		return true
	case <-t.C:
		return false
	}
}

// lateness returns a copy of the lateness samples so far and how many were
// early (negative).
func (d *deliveries) lateness() (latencies, int) {
	d.mu.Lock()
	l := append(latencies(nil), d.late...)
	d.mu.Unlock()
	early := 0
	for _, x := range l {
		if x < 0 {
			early++
		}
	}
	return l, early
}
