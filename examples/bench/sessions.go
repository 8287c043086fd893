package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sytefy/kit/sessions"
)

// sessionCell is one (operation, concurrency) measurement.
type sessionCell struct {
	Op         string  `json:"op"`
	Conc       int     `json:"concurrency"`
	Ops        int64   `json:"ops"`
	OpsPerSec  float64 `json:"ops_per_sec"`
	P50        float64 `json:"p50_ms"`
	P99        float64 `json:"p99_ms"`
	TripsPerOp float64 `json:"round_trips_per_op"`
	// Raw names the raw go-redis counterpart; Ratio is this cell's ops/s
	// over the counterpart's at the same concurrency.
	Raw   string  `json:"raw,omitempty"`
	Ratio float64 `json:"ratio_to_raw,omitempty"`
	Err   string  `json:"error,omitempty"`
}

// Operation names, as printed.
const (
	opGet       = "GET (raw)"
	opEvalSHA   = "EVALSHA (raw)"
	opIsActive  = "IsActive"
	opRemember  = "Remember"
	opRotate    = "Rotate"
	opRevokeAll = "RevokeAllForUser"
)

// rawCounterpart pairs each store operation with the raw command it is
// compared with: IsActive is a read like GET; the writes are one Lua
// script each, so they are held against the cheapest possible script.
var rawCounterpart = map[string]string{
	opIsActive:  opGet,
	opRemember:  opEvalSHA,
	opRotate:    opEvalSHA,
	opRevokeAll: opEvalSHA,
}

// trivialScript is the raw EVALSHA baseline: a script that touches nothing.
// It is given a key so that it is routed like the store's scripts.
const trivialScript = "return 1"

// sessionsBench measures the session store against raw go-redis commands on
// the same client.
type sessionsBench struct {
	cfg   config
	c     *client
	store *sessions.RedisStore
	meta  map[string]string
	value string // raw GET value, as long as a stored session

	active  []sessions.Session // remembered, for IsActive
	rawKeys []string           // SET, for GET and EVALSHA
	sha     string
	runID   atomic.Int64 // makes IDs unique across cells
}

func newSessionsBench(cfg config, c *client) (*sessionsBench, error) {
	store, err := sessions.NewRedisStore(c.Client, sessions.WithKeyPrefix("kitbench"))
	if err != nil {
		return nil, err
	}
	b := &sessionsBench{
		cfg:   cfg,
		c:     c,
		store: store,
		// What a login typically records next to a refresh token.
		meta: map[string]string{"device": "iPhone 15", "ip": "203.0.113.7"},
	}
	return b, nil
}

func (b *sessionsBench) newSession(userID, id string) sessions.Session {
	return sessions.Session{ID: id, UserID: userID, ExpiresAt: time.Now().Add(time.Hour), Meta: b.meta}
}

// jti returns a token ID shaped like a real one (22 characters, the length
// of a base64url 128-bit random ID), unique within the run.
func (b *sessionsBench) jti(tag byte, n int64) string {
	buf := make([]byte, 0, 22)
	buf = append(buf, tag)
	s := strconv.FormatInt(n, 36)
	for range 21 - len(s) {
		buf = append(buf, '0')
	}
	return string(append(buf, s...))
}

func userID(set string, n int) string { return set + "-user-" + strconv.Itoa(n) }

// prepare writes the read sets: cfg.SessionUsers users with one session
// each (IsActive) and as many raw keys holding a value of the same size
// (GET, EVALSHA).
func (b *sessionsBench) prepare(ctx context.Context) error {
	n := b.cfg.SessionUsers
	b.active = make([]sessions.Session, n)
	for i := range n {
		b.active[i] = b.newSession(userID("read", i), b.jti('r', int64(i)))
	}
	var next atomic.Int64
	res := runLoad(ctx, 64, b.cfg.PhaseTimeout, int64(n), b.c.rt, func(ctx context.Context, _ int) error {
		return b.store.Remember(ctx, b.active[next.Add(1)-1])
	})
	if res.Err != nil {
		return fmt.Errorf("remember read set: %w", res.Err)
	}
	if res.Ops != int64(n) {
		return fmt.Errorf("remember read set: %d of %d written in %s", res.Ops, n, b.cfg.PhaseTimeout)
	}
	// The raw value has the size of a stored session (JSON of the same
	// fields), so GET moves as many bytes as IsActive could.
	b.value = fmt.Sprintf(`{"uid":%q,"fam":%q,"iat":%d,"exp":%d,"meta":{"device":"iPhone 15","ip":"203.0.113.7"}}`,
		b.active[0].UserID, b.active[0].ID, time.Now().UnixMilli(), time.Now().Add(time.Hour).UnixMilli())
	b.rawKeys = make([]string, n)
	pipe := b.c.Pipeline()
	for i := range n {
		b.rawKeys[i] = "kitbench-raw:{" + b.active[i].UserID + "}:" + b.active[i].ID
		pipe.Set(ctx, b.rawKeys[i], b.value, time.Hour)
		if pipe.Len() == 1000 || i == n-1 {
			if _, err := pipe.Exec(ctx); err != nil {
				return fmt.Errorf("set raw keys: %w", err)
			}
		}
	}
	sha, err := b.c.ScriptLoad(ctx, trivialScript).Result()
	if err != nil {
		return fmt.Errorf("SCRIPT LOAD: %w", err)
	}
	b.sha = sha
	return nil
}

// pick spreads worker w's i-th read over the read set; a multiplicative
// step (a prime) visits every index without a shared counter.
func pick(w int, i int64, n int) int {
	return int((int64(w)*7919 + i*104729) % int64(n))
}

// cellOp returns the timed operation of one cell, after writing what it
// consumes (Rotate's chains, RevokeAllForUser's users with 20 sessions).
func (b *sessionsBench) cellOp(ctx context.Context, name string, conc int) (op, error) {
	run := b.runID.Add(1)
	set := "c" + strconv.FormatInt(run, 10)
	counts := make([]int64, conc) // per worker, so no sharing
	n := len(b.active)
	switch name {
	case opGet:
		return func(ctx context.Context, w int) error {
			counts[w]++
			v, err := b.c.Get(ctx, b.rawKeys[pick(w, counts[w], n)]).Result()
			if err == nil && len(v) != len(b.value) {
				err = fmt.Errorf("GET returned %d bytes, want %d", len(v), len(b.value))
			}
			return err
		}, nil
	case opEvalSHA:
		return func(ctx context.Context, w int) error {
			counts[w]++
			return b.c.EvalSha(ctx, b.sha, []string{b.rawKeys[pick(w, counts[w], n)]}).Err()
		}, nil
	case opIsActive:
		return func(ctx context.Context, w int) error {
			counts[w]++
			s := b.active[pick(w, counts[w], n)]
			ok, err := b.store.IsActive(ctx, s.UserID, s.ID)
			if err == nil && !ok {
				err = fmt.Errorf("IsActive of a remembered session returned false")
			}
			return err
		}, nil
	case opRemember:
		return func(ctx context.Context, w int) error {
			counts[w]++
			u := userID(set, pick(w, counts[w], n))
			return b.store.Remember(ctx, b.newSession(u, b.jti('m', run<<40|int64(w)<<32|counts[w])))
		}, nil
	case opRotate:
		return b.rotateOp(ctx, set, run, conc)
	case opRevokeAll:
		return b.revokeOp(ctx, set, run)
	}
	return nil, fmt.Errorf("unknown operation %q", name)
}

// rotateOp gives each worker 8 users, each with a chain of sessions: every
// call rotates one user's current session into a new one, as a client
// refreshing its token does.
func (b *sessionsBench) rotateOp(ctx context.Context, set string, run int64, conc int) (op, error) {
	const perWorker = 8
	current := make([][]sessions.Session, conc)
	for w := range conc {
		current[w] = make([]sessions.Session, perWorker)
		for k := range perWorker {
			s := b.newSession(userID(set, w*perWorker+k), b.jti('t', run<<40|int64(w)<<32|int64(k)))
			if err := b.store.Remember(ctx, s); err != nil {
				return nil, fmt.Errorf("remember chain start: %w", err)
			}
			current[w][k] = s
		}
	}
	counts := make([]int64, conc)
	return func(ctx context.Context, w int) error {
		counts[w]++
		k := int(counts[w] % perWorker)
		old := current[w][k]
		next := b.newSession(old.UserID, b.jti('t', run<<40|int64(w)<<32|(counts[w]+perWorker)))
		got, err := b.store.Rotate(ctx, old.UserID, old.ID, next)
		if err != nil {
			return err
		}
		current[w][k] = got
		return nil
	}, nil
}

// revokeOp prepares a round's share of cfg.RevokeUsers users with 20
// sessions each; every call revokes all of one user's sessions and checks
// that it revoked 20.
func (b *sessionsBench) revokeOp(ctx context.Context, set string, run int64) (op, error) {
	const perUser = 20
	users := (b.cfg.RevokeUsers + b.cfg.Rounds - 1) / b.cfg.Rounds
	var next atomic.Int64
	res := runLoad(ctx, 64, b.cfg.PhaseTimeout, int64(users*perUser), b.c.rt, func(ctx context.Context, _ int) error {
		i := next.Add(1) - 1
		return b.store.Remember(ctx, b.newSession(userID(set, int(i/perUser)), b.jti('v', run<<40|i)))
	})
	if res.Err != nil {
		return nil, fmt.Errorf("remember revoke set: %w", res.Err)
	}
	if res.Ops != int64(users*perUser) {
		return nil, fmt.Errorf("remember revoke set: %d of %d written in %s", res.Ops, users*perUser, b.cfg.PhaseTimeout)
	}
	var taken atomic.Int64
	return func(ctx context.Context, _ int) error {
		i := taken.Add(1) - 1
		if i >= int64(users) {
			return errExhausted
		}
		n, err := b.store.RevokeAllForUser(ctx, userID(set, int(i)))
		if err == nil && n != perUser {
			err = fmt.Errorf("RevokeAllForUser revoked %d sessions, want %d", n, perUser)
		}
		return err
	}, nil
}

// run measures every operation at every concurrency. Raw and store
// operations of one concurrency take turns in cfg.Rounds short rounds, in
// order and then in reverse order, so that a change in the machine's load
// (other processes on a shared host) falls on both sides of a ratio alike;
// each cell sums its rounds.
func (b *sessionsBench) run(ctx context.Context, progress func(string)) ([]sessionCell, error) {
	if err := b.prepare(ctx); err != nil {
		return nil, err
	}
	order := []string{opGet, opEvalSHA, opIsActive, opRemember, opRotate, opRevokeAll}
	slice := b.cfg.CellDuration / time.Duration(b.cfg.Rounds)
	var cells []sessionCell
	for _, conc := range b.cfg.Concurrency {
		progress(fmt.Sprintf("sessions: concurrency %d", conc))
		for _, name := range order {
			if err := b.warm(ctx, name); err != nil {
				return cells, fmt.Errorf("%s warm-up: %w", name, err)
			}
		}
		total := make(map[string]*loadResult, len(order))
		for round := range b.cfg.Rounds {
			turn := slices.Clone(order)
			if round%2 == 1 {
				slices.Reverse(turn) // ABBA: a steady drift cancels out
			}
			for _, name := range turn {
				if t := total[name]; t != nil && t.Err != nil {
					continue // failed in an earlier round
				}
				f, err := b.cellOp(ctx, name, conc)
				if err != nil {
					return cells, fmt.Errorf("%s at concurrency %d: %w", name, conc, err)
				}
				res := runLoad(ctx, conc, slice, 0, b.c.rt, f)
				if total[name] == nil {
					total[name] = &loadResult{}
				}
				total[name].add(res)
				if ctx.Err() != nil {
					return cells, ctx.Err()
				}
			}
		}
		for _, name := range order {
			res := total[name]
			sum := summarize(res.Lat)
			cell := sessionCell{Op: name, Conc: conc, Ops: res.Ops, OpsPerSec: res.opsPerSec(),
				P50: sum.P50, P99: sum.P99, TripsPerOp: res.tripsPerOp()}
			if res.Err != nil {
				cell.Err = res.Err.Error()
			}
			if raw := rawCounterpart[name]; raw != "" {
				cell.Raw = raw
				cell.Ratio = ratio(cell.OpsPerSec, total[raw].opsPerSec())
			}
			cells = append(cells, cell)
		}
	}
	return cells, nil
}

// warm runs an operation a few times at concurrency 1, untimed, so that
// scripts are loaded (the first EVALSHA of a script is answered NOSCRIPT
// and retried as EVAL) and connections are open before a cell is timed.
func (b *sessionsBench) warm(ctx context.Context, name string) error {
	if name == opRevokeAll {
		// Its cell op prepares thousands of users; one small user loads
		// the script just as well.
		u := userID("warm", int(b.runID.Add(1)))
		if err := b.store.Remember(ctx, b.newSession(u, b.jti('w', 0))); err != nil {
			return err
		}
		_, err := b.store.RevokeAllForUser(ctx, u)
		return err
	}
	f, err := b.cellOp(ctx, name, 1)
	if err != nil {
		return err
	}
	for range 20 {
		if err := f(ctx, 0); err != nil {
			return err
		}
	}
	return nil
}
