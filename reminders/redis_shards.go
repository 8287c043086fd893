package reminders

import (
	"context"
	"log/slog"
	"time"
)

// shardState is the worker loop's view of one shard (loop goroutine only).
type shardState struct {
	claiming bool      // a claim of this shard is running (claimAsync)
	fails    int       // consecutive failed claims
	retryAt  time.Time // when a failing shard is tried again
}

// claimResult is what a claim goroutine hands back to the loop.
type claimResult struct {
	shard    int
	reserved int   // handler slots held for it (free)
	nextAt   int64 // see claim
	err      error
}

// measureResult is what a measurement of Redis time hands back to the
// loop (see redisClock.measure).
type measureResult struct {
	skew time.Duration // Redis TIME minus the wall clock, the largest over the masters that answered
	some bool          // some master answered: skew is known
	err  error         // the first failure: a shard was not measured
}

// claimAsync runs a claim of up to max reminders on shard sh on a
// goroutine of its own, holding max handler slots for it meanwhile, so
// that a shard whose master hangs (a partition: a call that waits out
// redisOpTimeout) holds up only itself: the loop goes on with the other
// shards, and hears of the result in collect or sleep. One claim per
// shard runs at a time.
func (w *worker) claimAsync(ctx context.Context, sh, max int) {
	w.mu.Lock()
	w.reserved += max
	w.mu.Unlock()
	w.shards[sh].claiming = true
	w.calls.Add(1)
	go func() {
		defer w.calls.Done()
		nextAt, err := w.claim(ctx, sh, max)
		w.claims <- claimResult{shard: sh, reserved: max, nextAt: nextAt, err: err}
	}()
}

// claimSize is how many reminders a claim of shard sh asks for, with free
// handler slots: claimBatch at most, and the slots it holds while it runs
// are shared out, so that a claim left hanging by its master holds up the
// other shards as little as can be: a shard's claim holds at most its
// share of the concurrency (all of it with one shard), and a failing
// shard's none (see below). Only the first claim to hang holds its share,
// until it times out.
func (w *worker) claimSize(sh, free int) int {
	if w.shards[sh].fails > 0 {
		// A probe: a claim of no reminder still runs the script (and so
		// tells whether the shard answers again) but holds no slot, so
		// that a shard whose master hangs starves no other one, however
		// few the slots.
		return 0
	}
	share := max(1, w.o.concurrency/len(w.shards))
	return min(free, claimBatch, share)
}

// applyClaim takes in a finished claim: the shard's next time to look, or
// its own backoff when it failed. The handlers the claim started already
// hold their slots, so the reserved ones are given back.
func (w *worker) applyClaim(ctx context.Context, r claimResult, next []int64, looked []time.Time) {
	w.mu.Lock()
	w.reserved -= r.reserved
	w.mu.Unlock()
	st := &w.shards[r.shard]
	st.claiming = false
	now := time.Now()
	if r.err != nil {
		if ctx.Err() != nil {
			return
		}
		st.fails++
		d := retryDelay(st.fails)
		st.retryAt, looked[r.shard] = now.Add(d), now
		w.log.LogAttrs(ctx, slog.LevelWarn, "reminders: Redis unreachable; worker retrying",
			slog.Int("shard", r.shard), slog.Int("failures", st.fails), slog.Duration("retry_in", d),
			slog.Any("error", r.err))
		if w.allFailing() {
			// Redis itself may have failed over, to a server with another
			// clock.
			w.clock.remeasure()
		}
		return
	}
	if st.fails > 0 {
		w.log.LogAttrs(ctx, slog.LevelInfo, "reminders: Redis reachable again",
			slog.Int("shard", r.shard), slog.Int("failures", st.fails))
		st.fails = 0
	}
	next[r.shard], looked[r.shard] = r.nextAt, now
}

// allFailing reports whether the last claim of every shard failed.
func (w *worker) allFailing() bool {
	for _, st := range w.shards {
		if st.fails == 0 {
			return false
		}
	}
	return true
}

// measureAsync measures Redis time again on a goroutine of its own, for
// the same reason as claimAsync: a master that hangs must not hold up the
// loop. Claims go on with the previous measurement meanwhile; they are
// safe with any (the claim script never looks past Redis TIME).
func (w *worker) measureAsync(ctx context.Context) {
	w.measuring = true
	w.calls.Add(1)
	go func() {
		defer w.calls.Done()
		mctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
		m := w.clock.measure(mctx, w.s.client, w.s.keys)
		cancel()
		w.measured <- m
	}()
}

// applyMeasure takes in a measurement. One that failed, in part or in
// all, is tried again after a backoff; the shards it missed keep their
// previous measurement.
func (w *worker) applyMeasure(ctx context.Context, m measureResult) {
	w.measuring = false
	if m.some {
		w.reportSkew(ctx, m.skew)
	}
	if m.err == nil {
		w.measureFails, w.measureRetryAt = 0, time.Time{}
		return
	}
	w.measureFails++
	d := retryDelay(w.measureFails)
	w.measureRetryAt = time.Now().Add(d)
	if waiting := w.unmeasured(); waiting > 0 {
		// Their claims are not even tried, so nothing else would say why
		// they are not served.
		w.log.LogAttrs(ctx, slog.LevelWarn, "reminders: Redis time not measured on some shards; they wait until it is",
			slog.Int("shards", waiting), slog.Duration("retry_in", d), slog.Any("error", m.err))
		return
	}
	// Every shard keeps its previous measurement: its claims, which fail
	// too while its master is down, say so.
	w.log.LogAttrs(ctx, slog.LevelDebug, "reminders: Redis time not measured again", slog.Any("error", m.err))
}

// unmeasured is how many shards have never been measured.
func (w *worker) unmeasured() int {
	n := 0
	for sh := range w.shards {
		if !w.clock.measured(sh) {
			n++
		}
	}
	return n
}

// collect takes in, without waiting, the claims and measurements that
// finished since the loop last looked.
func (w *worker) collect(ctx context.Context, next []int64, looked []time.Time) {
	for {
		select {
		case r := <-w.claims:
			w.applyClaim(ctx, r, next, looked)
		case m := <-w.measured:
			w.applyMeasure(ctx, m)
		default:
			return
		}
	}
}
