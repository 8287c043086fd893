package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	mrand "math/rand/v2"

	"github.com/sytefy/kit/sessions"
)

// sessionSet is what the sessions half checks: sessions that must be
// active and sessions that were ended (by Revoke, by RevokeAllForUser, or
// spent by Rotate) and must never be reported active again.
type sessionSet struct {
	active  []userToken
	revoked []userToken
}

type userToken struct{ user, id string }

func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// seedSessions remembers users×perUser sessions and ends some of them in
// each of the three ways a session ends.
func seedSessions(ctx context.Context, st sessions.Store, users, perUser int) (sessionSet, error) {
	var set sessionSet
	exp := time.Now().Add(2 * time.Hour)
	for u := 0; u < users; u++ {
		user := fmt.Sprintf("user-%d", u)
		var mine []userToken
		for i := 0; i < perUser; i++ {
			t := userToken{user, newJTI()}
			if err := st.Remember(ctx, sessions.Session{ID: t.id, UserID: user, ExpiresAt: exp}); err != nil {
				return set, fmt.Errorf("remember: %w", err)
			}
			mine = append(mine, t)
		}
		if u%10 == 9 { // log out everywhere
			if _, err := st.RevokeAllForUser(ctx, user); err != nil {
				return set, fmt.Errorf("revoke all: %w", err)
			}
			set.revoked = append(set.revoked, mine...)
			continue
		}
		for i, t := range mine {
			switch i % 4 {
			case 1: // logout
				if err := st.Revoke(ctx, user, t.id); err != nil {
					return set, fmt.Errorf("revoke: %w", err)
				}
				set.revoked = append(set.revoked, t)
			case 2: // refresh: the old token is spent, its successor active
				next := userToken{user, newJTI()}
				if _, err := st.Rotate(ctx, user, t.id, sessions.Session{ID: next.id, ExpiresAt: exp}); err != nil {
					return set, fmt.Errorf("rotate: %w", err)
				}
				set.revoked = append(set.revoked, t)
				set.active = append(set.active, next)
			default:
				set.active = append(set.active, t)
			}
		}
	}
	return set, nil
}

// sessionReport is the sessions half of the verdict.
type sessionReport struct {
	Calls         int64
	Errors        int64
	TrueRevoked   int64 // true for an ended session (must be 0)
	TrueInOutage  int64 // true from a call made wholly during an outage (must be 0)
	FalseActive   int64 // (false, nil) for an active session: a lost session (must be 0)
	Overran       int64 // calls that returned later than deadline+slack (must be 0)
	MaxOverrun    time.Duration
	ForeignErrors int64 // errors not wrapping ErrUnavailable (must be 0)
	Recovery      []recovery
}

// recovery is how fast IsActive worked again after one outage.
type recovery struct {
	Outage outage
	// FirstOK is from the outage's end to the first (true, nil) for an
	// active session from a call started after it.
	FirstOK time.Duration
	// LastErr is from the outage's end to the last error of a call
	// started after it (0: none): after this every call succeeded.
	LastErr time.Duration
}

func (r sessionReport) failures() []string {
	var f []string
	add := func(ok bool, format string, args ...any) {
		if !ok {
			f = append(f, fmt.Sprintf(format, args...))
		}
	}
	add(r.TrueRevoked == 0, "IsActive returned true for a revoked session %d times", r.TrueRevoked)
	add(r.TrueInOutage == 0, "IsActive returned true during an outage %d times", r.TrueInOutage)
	add(r.FalseActive == 0, "IsActive returned (false, nil) for an active session %d times", r.FalseActive)
	add(r.Overran == 0, "%d IsActive calls outlived their context deadline (max by %s)", r.Overran, r.MaxOverrun)
	add(r.ForeignErrors == 0, "%d IsActive errors do not wrap ErrUnavailable", r.ForeignErrors)
	for _, rc := range r.Recovery {
		add(rc.FirstOK >= 0, "IsActive did not recover after the %s at %s", rc.Outage.Kind, rc.Outage.End.Format(time.TimeOnly))
	}
	return f
}

// sessionLoad runs IsActive from many goroutines until ctx ends.
type sessionLoad struct {
	store    sessions.Store
	set      sessionSet
	faults   *faults
	timeout  time.Duration // per call
	slack    time.Duration // tolerance past the deadline
	interval time.Duration // pause between one goroutine's calls

	calls, errs, trueRevoked, trueOutage, falseActive, overran, foreign atomic.Int64

	mu         sync.Mutex
	maxOverrun time.Duration
	// Per period between transitions (the faults word), for recovery.
	firstOK map[uint64]time.Time
	lastErr map[uint64]time.Time
}

func (l *sessionLoad) run(ctx context.Context, goroutines int) {
	l.firstOK = make(map[uint64]time.Time)
	l.lastErr = make(map[uint64]time.Time)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(seed, 7))
			for ctx.Err() == nil {
				l.one(rng)
				if l.interval > 0 {
					time.Sleep(l.interval)
				}
			}
		}(uint64(g))
	}
	wg.Wait()
}

func (l *sessionLoad) one(rng *mrand.Rand) {
	revoked := rng.IntN(2) == 0
	var t userToken
	if revoked {
		t = l.set.revoked[rng.IntN(len(l.set.revoked))]
	} else {
		t = l.set.active[rng.IntN(len(l.set.active))]
	}
	before := l.faults.state()
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	deadline, _ := ctx.Deadline()
	ok, err := l.store.IsActive(ctx, t.user, t.id)
	end := time.Now()
	cancel()
	after := l.faults.state()

	l.calls.Add(1)
	if over := end.Sub(deadline); over > 0 {
		l.mu.Lock()
		l.maxOverrun = max(l.maxOverrun, over)
		l.mu.Unlock()
		if over > l.slack {
			l.overran.Add(1)
		}
	}
	switch {
	case ok && revoked:
		l.trueRevoked.Add(1)
	case ok && before == after && isDown(before):
		l.trueOutage.Add(1)
	case !ok && err == nil && !revoked:
		l.falseActive.Add(1)
	}
	if err != nil {
		l.errs.Add(1)
		if !errors.Is(err, sessions.ErrUnavailable) {
			l.foreign.Add(1)
		}
	}
	if isDown(before) || before != after {
		return // recovery is measured on calls made wholly after an outage
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		if end.After(l.lastErr[before]) {
			l.lastErr[before] = end
		}
	} else if ok {
		if f, seen := l.firstOK[before]; !seen || end.Before(f) {
			l.firstOK[before] = end
		}
	}
}

func (l *sessionLoad) report(outs []outage) sessionReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := sessionReport{
		Calls: l.calls.Load(), Errors: l.errs.Load(),
		TrueRevoked: l.trueRevoked.Load(), TrueInOutage: l.trueOutage.Load(),
		FalseActive: l.falseActive.Load(), Overran: l.overran.Load(),
		MaxOverrun: l.maxOverrun, ForeignErrors: l.foreign.Load(),
	}
	for i, o := range outs {
		period := uint64(i+1) * 2 // the faults word after outage i ended
		rc := recovery{Outage: o, FirstOK: -1}
		if f, ok := l.firstOK[period]; ok {
			rc.FirstOK = f.Sub(o.End)
		}
		if e, ok := l.lastErr[period]; ok {
			rc.LastErr = e.Sub(o.End)
		}
		r.Recovery = append(r.Recovery, rc)
	}
	return r
}
