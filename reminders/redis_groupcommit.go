package reminders

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Group commit. Concurrent Schedule calls for one shard share script calls:
// while one call's script is on its way to Redis and back, the calls that
// arrive queue up, and the next script call stores all of them (up to
// scheduleChunk reminders and scheduleChunkBytes of payload). A lone call
// goes out at once, as it would without this, so it costs no latency; under
// load a call waits for at most the round trip ahead of it, and both Redis
// and the client spend one request's work (system calls, parsing, a script
// invocation) on many reminders instead of one each, which is what bounds
// one-at-a-time scheduling on a busy host. Each reminder is still stored
// atomically by the script; the script call is the unit of failure, so each
// caller gets the error of the call that carried its reminder.
//
// There is no background goroutine: the caller whose turn it is (the
// leader) sends the batch and then passes the turn to the longest-waiting
// caller, which sends the next batch.

// scheduleQueue is one shard's group commit state.
type scheduleQueue struct {
	mu      sync.Mutex
	waiting []*scheduleCall // arrival order; never empty unless !leading
	leading bool            // a call holds the turn
}

// scheduleCall is one waiting Schedule call.
type scheduleCall struct {
	ctx  context.Context
	r    Reminder
	done chan error // capacity 1: the outcome, or errTurn
}

// errTurn, sent on a waiting call's done, gives it the turn.
var errTurn = errors.New("reminders: your turn")

// scheduleOne stores one reminder, sharing a script call with concurrent
// calls for the same shard.
func (s *RedisScheduler) scheduleOne(ctx context.Context, r Reminder) error {
	sh := shardOf(r.ID, len(s.keys))
	q := &s.queues[sh]
	q.mu.Lock()
	if !q.leading {
		q.leading = true
		q.mu.Unlock()
		return s.lead(sh, q, &scheduleCall{ctx: ctx, r: r})
	}
	c := &scheduleCall{ctx: ctx, r: r, done: make(chan error, 1)}
	q.waiting = append(q.waiting, c)
	q.mu.Unlock()
	select {
	case err := <-c.done:
		if err == errTurn {
			return s.lead(sh, q, c)
		}
		return err
	case <-ctx.Done():
		return s.abandon(q, c)
	}
}

// abandon returns for a waiting call whose context ended. Still queued, it
// leaves the queue and nothing of it is written. Handed the turn, it
// passes the turn on. Taken into a batch in flight, its reminder may be
// stored or not, as with a reply lost on the way back: ErrUnavailable.
func (s *RedisScheduler) abandon(q *scheduleQueue, c *scheduleCall) error {
	q.mu.Lock()
	if i := slices.Index(q.waiting, c); i >= 0 {
		q.waiting = slices.Delete(q.waiting, i, i+1)
		q.mu.Unlock()
		return unavailable(c.ctx.Err())
	}
	q.mu.Unlock()
	// The turn is sent under q.mu, so it is in done by now if it was sent
	// at all; an outcome may be there too.
	select {
	case err := <-c.done:
		if err == errTurn {
			s.passTurn(q)
			break
		}
		return err
	default:
	}
	return unavailable(c.ctx.Err())
}

// lead sends self's reminder with those of the calls waiting behind it,
// hands each waiting call its outcome, passes the turn on and returns
// self's outcome.
func (s *RedisScheduler) lead(sh int, q *scheduleQueue, self *scheduleCall) error {
	defer s.passTurn(q)
	if err := self.ctx.Err(); err != nil {
		return unavailable(err)
	}
	batch := s.takeBatch(q, self)
	err := s.storeBatch(sh, batch)
	for _, c := range batch[1:] {
		c.done <- err
	}
	return err
}

// takeBatch is self and the calls queued behind it that fit one script
// call (chunkLen's limits), in arrival order; calls whose context ended
// are answered and left out.
func (s *RedisScheduler) takeBatch(q *scheduleQueue, self *scheduleCall) []*scheduleCall {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiting) == 0 {
		return []*scheduleCall{self}
	}
	batch := []*scheduleCall{self}
	size, n := len(self.r.Payload), 0
	for _, c := range q.waiting {
		if len(batch) == scheduleChunk || size+len(c.r.Payload) > scheduleChunkBytes {
			break
		}
		n++
		if err := c.ctx.Err(); err != nil {
			c.done <- unavailable(err)
			continue
		}
		batch = append(batch, c)
		size += len(c.r.Payload)
	}
	rest := copy(q.waiting, q.waiting[n:])
	clear(q.waiting[rest:])
	q.waiting = q.waiting[:rest]
	return batch
}

// passTurn gives the turn to the longest-waiting call, or ends it.
func (s *RedisScheduler) passTurn(q *scheduleQueue) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiting) == 0 {
		q.leading = false
		return
	}
	next := q.waiting[0]
	q.waiting = slices.Delete(q.waiting, 0, 1)
	next.done <- errTurn
}

// storeBatch stores the batch's reminders, all of shard sh, in one script
// call. A batch of one is sent on its caller's context. A larger one is
// sent on a context that carries the leader's values, is cancelled by none
// of the callers (each caller returns when its own context ends, without
// waiting), and has the latest of their deadlines, if each has one.
func (s *RedisScheduler) storeBatch(sh int, batch []*scheduleCall) error {
	ctx := batch[0].ctx
	rs := make([]Reminder, len(batch))
	for i, c := range batch {
		rs[i] = c.r
	}
	if len(batch) > 1 {
		var cancel context.CancelFunc
		ctx, cancel = sharedContext(batch)
		defer cancel()
	}
	args := scheduleArgs(sh, rs, s.clocks, s.wake)
	reply, err := scriptSchedule.Run(ctx, s.client, s.keys[sh].all(), args...).Result()
	if err != nil {
		s.clocks.forget(sh)
		err = unavailable(err)
		s.opts.logger.LogAttrs(ctx, slog.LevelWarn, "reminders: schedule failed",
			slog.Int("reminders", len(rs)), slog.Any("error", err))
		return err
	}
	s.clocks.record(sh, reply)
	for i, c := range batch {
		s.scheduled(c.ctx, sh, rs[i:i+1])
	}
	return nil
}

// sharedContext is the context of a batch's script call (see storeBatch).
func sharedContext(batch []*scheduleCall) (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(batch[0].ctx)
	var latest time.Time
	for _, c := range batch {
		d, ok := c.ctx.Deadline()
		if !ok {
			return ctx, func() {}
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(ctx, latest)
}
