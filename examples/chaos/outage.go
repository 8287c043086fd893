package main

import (
	"sync"
	"sync/atomic"
	"time"
)

// outage is one interval during which the harness made Redis unreachable:
// from the moment the fault took effect (the server stopped or died) to the
// moment the harness began to undo it (SIGCONT sent, new server started).
type outage struct {
	Kind       string // "pause" or "restart"
	Start, End time.Time
}

// faults tracks the harness's outages. Readers on hot paths use state: one
// atomic word that changes at every transition, so that a call that saw
// the same word before and after it ran entirely inside one period.
type faults struct {
	word atomic.Uint64 // transitions so far: odd while Redis is down

	mu   sync.Mutex
	list []outage
}

// state returns the current word: the number of transitions so far, odd
// while Redis is down.
func (f *faults) state() uint64 { return f.word.Load() }

// down begins an outage of the given kind; the fault must already hold.
func (f *faults) down(kind string) {
	f.mu.Lock()
	f.list = append(f.list, outage{Kind: kind, Start: time.Now()})
	f.mu.Unlock()
	f.word.Store(uint64(len(f.list))*2 - 1)
}

// up ends the current outage; call it before the fault is undone.
func (f *faults) up() {
	f.mu.Lock()
	f.list[len(f.list)-1].End = time.Now()
	n := len(f.list)
	f.mu.Unlock()
	f.word.Store(uint64(n) * 2)
}

// outages returns a copy of the outages so far.
func (f *faults) outages() []outage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]outage(nil), f.list...)
}

// isDown reports whether a state word was taken during an outage.
func isDown(w uint64) bool { return w&1 == 1 }

// outageLeadIn is how long before an outage a reminder may fall due and
// still be caught by it: a worker claims a due reminder a few milliseconds
// after its due time, and the fault may land in between.
const outageLeadIn = 250 * time.Millisecond

// nearOutage reports whether t lies in an outage, within outageLeadIn
// before it, or within settle after its end: the span whose reminders are
// late by design.
func nearOutage(os []outage, t time.Time, settle time.Duration) bool {
	for _, o := range os {
		if !t.Before(o.Start.Add(-outageLeadIn)) && t.Before(o.End.Add(settle)) {
			return true
		}
	}
	return false
}
