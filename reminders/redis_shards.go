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

// measureResult is what a measurement goroutine hands back to the loop.
type measureResult struct {
	skew time.Duration
	err  error
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
		skew, err := w.clock.measure(mctx, w.s.client, w.s.keys)
		cancel()
		w.measured <- measureResult{skew: skew, err: err}
	}()
}

func (w *worker) applyMeasure(ctx context.Context, m measureResult) {
	w.measuring = false
	if m.err != nil {
		w.measureFails++
		w.measureRetryAt = time.Now().Add(retryDelay(w.measureFails))
		// Keep the previous measurement; the next turn tries again.
		w.log.LogAttrs(ctx, slog.LevelDebug, "reminders: Redis time not measured again", slog.Any("error", m.err))
		return
	}
	w.measureFails, w.measureRetryAt = 0, time.Time{}
	w.reportSkew(ctx, m.skew)
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
