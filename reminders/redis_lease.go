package reminders

import (
	"context"
	"log/slog"
	"time"
)

// extendChunk bounds the leases one extend or release script call touches.
const extendChunk = 256

// keepLeases renews the leases of running handlers every third of the
// lease, all of a shard's in one script call, so a handler keeps its claim
// for as long as it runs and the worker lives. A claim the script reports
// lost (the reminder was rescheduled, cancelled or taken back), or whose
// lease passed while Redis could not be reached, is marked lost: its
// handler's context is cancelled and its outcome ignored. Once a handler
// returned, its lease is left to run out (see claim.finished).
func (w *worker) keepLeases(ctx context.Context) {
	t := time.NewTicker(w.o.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.renew(ctx)
		}
	}
}

func (w *worker) renew(ctx context.Context) {
	byShard := w.runningClaims((*claim).running)
	var calls []*scriptCall
	var owners [][]*claim
	var deadlines []int64
	for sh, cs := range byShard {
		for len(cs) > 0 {
			n := min(len(cs), extendChunk)
			deadline := w.clock.nowMillis(sh) + w.o.lease.Milliseconds()
			args := make([]any, 0, 2+2*n)
			args = append(args, deadline, w.o.lease.Milliseconds())
			for _, c := range cs[:n] {
				args = append(args, c.id, c.version)
			}
			calls = append(calls, &scriptCall{script: scriptExtend, keys: w.s.keys[sh].all(), args: args})
			owners = append(owners, cs[:n])
			deadlines = append(deadlines, deadline)
			cs = cs[n:]
		}
	}
	rctx, cancel := context.WithTimeout(ctx, min(redisOpTimeout, w.o.lease/3))
	defer cancel()
	_ = runPipelined(rctx, w.s.client, calls)
	for i, sc := range calls {
		res, err := sc.cmd.Int64Slice()
		for j, c := range owners[i] {
			switch {
			case err == nil && j < len(res) && res[j] == 1:
				c.renewed(deadlines[i])
			case err == nil:
				w.lost(ctx, c, "the reminder was rescheduled, cancelled or taken back")
			case w.clock.nowMillis(c.shard) > c.leaseDeadline():
				w.lost(ctx, c, "its lease expired while Redis was unreachable")
			}
		}
		if err != nil && ctx.Err() == nil {
			w.log.LogAttrs(ctx, slog.LevelWarn, "reminders: cannot renew leases", slog.Any("error", err))
		}
	}
}

// runningClaims groups by shard the claims for which pick is true.
func (w *worker) runningClaims(pick func(*claim) bool) map[int][]*claim {
	w.mu.Lock()
	defer w.mu.Unlock()
	byShard := make(map[int][]*claim)
	for c := range w.inflight {
		if pick(c) {
			byShard[c.shard] = append(byShard[c.shard], c)
		}
	}
	return byShard
}

func (w *worker) lost(ctx context.Context, c *claim, why string) {
	if c.lost.Load() {
		return
	}
	c.lose()
	w.log.LogAttrs(ctx, slog.LevelInfo, "reminders: claim lost; cancelling the attempt",
		slog.String("task_name", c.rec.kind), slog.String("reminder_id", c.id), slog.Int("attempt", c.rec.attempt),
		slog.String("reason", why))
}

// release hands the claims whose handlers still run back at shutdown, due
// at once for other workers, and marks them lost so that their late
// outcomes are ignored (the release gave them a new version anyway). A
// handler that returned before is not released: its outcome is on its way
// (see claim.loseIfRunning). If Redis cannot be reached, the leases expire
// and the reminders are taken back then.
func (w *worker) release() {
	byShard := w.runningClaims((*claim).loseIfRunning)
	var calls []*scriptCall
	total := 0
	for sh, cs := range byShard {
		total += len(cs)
		for len(cs) > 0 {
			n := min(len(cs), extendChunk)
			args := make([]any, 0, 2+2*n)
			args = append(args, w.s.wake, sh)
			for _, c := range cs[:n] {
				args = append(args, c.id, c.version)
			}
			calls = append(calls, &scriptCall{script: scriptRelease, keys: w.s.keys[sh].all(), args: args})
			cs = cs[n:]
		}
	}
	if total == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.base), redisOpTimeout)
	defer cancel()
	if err := runPipelined(ctx, w.s.client, calls); err != nil {
		w.log.LogAttrs(ctx, slog.LevelWarn, "reminders: shutdown: cannot release running reminders; they return when their leases expire",
			slog.Int("reminders", total), slog.Any("error", err))
		return
	}
	w.log.LogAttrs(ctx, slog.LevelInfo, "reminders: shutdown timeout passed; released running reminders for other workers",
		slog.Int("reminders", total))
}
