package reminders

import (
	"context"
	"fmt"
)

// Outcome operations of the settle script.
const (
	opAck   = "ack"
	opRetry = "retry"
	opDead  = "dead"
)

// settleChunk bounds the outcomes one settle script call records.
const settleChunk = 64

// settleReq is one outcome on its way to Redis.
type settleReq struct {
	c   *claim
	op  string
	at  int64 // retry due time, Unix ms
	msg string
	res chan settleRes // capacity 1
}

type settleRes struct {
	applied bool
	err     error
}

// settleOnce hands an outcome to settleLoop and waits for its result.
func (w *worker) settleOnce(c *claim, op string, at int64, msg string) (bool, error) {
	req := &settleReq{c: c, op: op, at: at, msg: msg, res: make(chan settleRes, 1)}
	w.settleQ <- req
	r := <-req.res
	return r.applied, r.err
}

// settleLoop records outcomes in batches: whatever handlers finished while
// the previous batch was on the wire goes in the next, one pipeline, one
// script call per shard and settleChunk outcomes. Under load this turns
// thousands of acks a second into a few round trips; when idle a lone
// outcome goes at once. It runs until ctx ends, which Run does only once
// every handler goroutine has returned (none waits on it then).
func (w *worker) settleLoop(ctx context.Context) {
	for {
		var batch []*settleReq
		select {
		case <-ctx.Done():
			return
		case r := <-w.settleQ:
			batch = append(batch, r)
		}
	more:
		for len(batch) < 16*settleChunk {
			select {
			case r := <-w.settleQ:
				batch = append(batch, r)
			default:
				break more
			}
		}
		w.settleBatch(ctx, batch)
	}
}

func (w *worker) settleBatch(ctx context.Context, batch []*settleReq) {
	byShard := make(map[int][]*settleReq)
	for _, r := range batch {
		byShard[r.c.shard] = append(byShard[r.c.shard], r)
	}
	var calls []*scriptCall
	var owners [][]*settleReq // owners[i] are the outcomes of calls[i]
	for sh, reqs := range byShard {
		for len(reqs) > 0 {
			n := min(len(reqs), settleChunk)
			args := make([]any, 0, 3+5*n)
			args = append(args, w.clock.nowMillis(sh), w.s.wake, sh)
			for _, r := range reqs[:n] {
				args = append(args, r.op, r.c.id, r.c.version, r.at, r.msg)
			}
			calls = append(calls, &scriptCall{script: scriptSettle, keys: w.s.keys[sh].all(), args: args})
			owners = append(owners, reqs[:n])
			reqs = reqs[n:]
		}
	}
	sctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
	defer cancel()
	_ = runPipelined(sctx, w.s.client, calls)
	for i, sc := range calls {
		res, err := sc.cmd.Int64Slice()
		if err == nil && len(res) != len(owners[i]) {
			err = fmt.Errorf("settle: %d results for %d outcomes", len(res), len(owners[i]))
		}
		for j, r := range owners[i] {
			if err != nil {
				r.res <- settleRes{err: unavailable(err)}
				continue
			}
			r.res <- settleRes{applied: res[j] == 1}
		}
	}
}
