package reminders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit. Concurrent Schedule calls for one shard share script calls:
// while one script call of the shard is on its way to Redis and back, the
// calls that arrive queue up, and the next script call stores all of them
// (up to scheduleChunk reminders and scheduleChunkBytes of payload; the
// rest wait for the one after). A lone call goes out at once, on its own
// goroutine and context, as it would without this, so it costs no latency.
// Under load both Redis and the client spend one request's work (system
// calls, parsing, a script invocation) on many reminders instead of one
// each, which is what bounds one-at-a-time scheduling on a busy host. Each
// reminder is still stored atomically by the script; the script call is the
// unit of failure, so each caller gets the error of the call that carried
// its reminder.
//
// One script call per shard is in flight per scheduler: the turn. Its
// holder sends alone, or takes the queue as a batch and sends it from a
// goroutine of its own, then waits for its outcome like every other caller
// in the batch, so that each caller returns when its own context ends. The
// one that ends a script call passes the turn to the longest-waiting call.
// One in flight keeps batches large, and queues the retry of a call that
// gave up while its batch was on its way behind that batch.

// scheduleQueue is one shard's group commit state.
type scheduleQueue struct {
	mu      sync.Mutex
	waiting []*scheduleCall // arrival order
	leading bool            // the turn is held; false only when waiting is empty
}

// A scheduleCall's state, for a call whose context ends after its reminder
// was taken into a batch: then the caller and the batch's goroutine race to
// mark it, and the loser learns who answers.
const (
	callQueued   int32 = iota // in waiting, or handed the turn
	callTaken                 // in a batch on its way
	callAnswered              // its outcome is (or is about to be) in done
	callLeft                  // its caller returned; the batch reports it to the observer
)

// scheduleCall is one Schedule call waiting for the turn or for its batch.
type scheduleCall struct {
	ctx   context.Context
	r     Reminder
	state atomic.Int32
	done  chan error // capacity 1: the outcome, or errTurn
}

// errTurn, sent on a waiting call's done, gives it the turn.
var errTurn = errors.New("reminders: your turn")

// scheduleOne stores one reminder, sharing a script call with concurrent
// calls for the same shard.
func (s *RedisScheduler) scheduleOne(ctx context.Context, r Reminder) error {
	sh := shardOf(r.ID, len(s.keys))
	q := &s.queues[sh]
	c := &scheduleCall{ctx: ctx, r: r, done: make(chan error, 1)}
	q.mu.Lock()
	if !q.leading {
		q.leading = true
		q.mu.Unlock()
		return s.lead(sh, q, c)
	}
	q.waiting = append(q.waiting, c)
	q.mu.Unlock()
	return s.await(sh, q, c)
}

// await waits for c's outcome, or for the turn, or for c's context to end.
func (s *RedisScheduler) await(sh int, q *scheduleQueue, c *scheduleCall) error {
	select {
	case err := <-c.done:
		if err == errTurn {
			return s.lead(sh, q, c)
		}
		return s.answered(sh, c, err)
	case <-c.ctx.Done():
		return s.abandon(sh, q, c)
	}
}

// answered reports c's stored reminder to the observer, on its caller's
// goroutine and outside the turn, and returns err; a panic of the batch's
// script call is raised again here, as it would be on a lone call.
func (s *RedisScheduler) answered(sh int, c *scheduleCall, err error) error {
	if p, ok := err.(sendPanic); ok {
		panic(p.value)
	}
	if err == nil {
		s.scheduled(c.ctx, sh, []Reminder{c.r})
	}
	return err
}

// sendPanic carries a panic of a batch's script call (a go-redis hook's,
// the logger's) to the callers waiting for it.
type sendPanic struct{ value any }

func (p sendPanic) Error() string { return fmt.Sprint("reminders: panic while scheduling: ", p.value) }

// abandon returns for a call whose context ended. Still queued, it leaves
// the queue and nothing of it is written. Handed the turn, it passes the
// turn on. Taken into a batch on its way, its reminder may be stored or not,
// as with a reply lost on the way back: ErrUnavailable.
func (s *RedisScheduler) abandon(sh int, q *scheduleQueue, c *scheduleCall) error {
	q.mu.Lock()
	if i := slices.Index(q.waiting, c); i >= 0 {
		q.waiting = slices.Delete(q.waiting, i, i+1)
		q.mu.Unlock()
		return unavailable(c.ctx.Err())
	}
	q.mu.Unlock()
	// Out of the queue, under q.mu: c was handed the turn (errTurn is in
	// done), answered by takeBatch, or taken into a batch.
	if c.state.CompareAndSwap(callTaken, callLeft) {
		return unavailable(c.ctx.Err())
	}
	err := <-c.done // in done, or about to be: the batch won the race
	if err == errTurn {
		s.passTurn(q)
		return unavailable(c.ctx.Err())
	}
	return s.answered(sh, c, err)
}

// lead holds the turn for self: it sends self's reminder alone, on self's
// goroutine and context, or with those of the calls queued behind it, from
// a goroutine of its own, and waits for the outcome like them.
func (s *RedisScheduler) lead(sh int, q *scheduleQueue, self *scheduleCall) error {
	if err := self.ctx.Err(); err != nil {
		s.passTurn(q)
		return unavailable(err)
	}
	batch := s.takeBatch(q, self)
	if len(batch) > 1 {
		s.sends.Add(1)
		go s.sendBatch(sh, q, batch)
		return s.await(sh, q, self)
	}
	err := func() error {
		defer s.passTurn(q) // even if the hooks or the logger panic
		return s.store(self.ctx, sh, []Reminder{self.r})
	}()
	return s.answered(sh, self, err)
}

// takeBatch is self and the calls queued behind it that fit one script
// call (chunkLen's limits), in arrival order, each marked callTaken; calls
// whose context ended are answered and left out.
func (s *RedisScheduler) takeBatch(q *scheduleQueue, self *scheduleCall) []*scheduleCall {
	q.mu.Lock()
	defer q.mu.Unlock()
	batch := []*scheduleCall{self}
	self.state.Store(callTaken)
	size, n := len(self.r.Payload), 0
	for _, c := range q.waiting {
		if len(batch) == scheduleChunk || size+len(c.r.Payload) > scheduleChunkBytes {
			break
		}
		n++
		if err := c.ctx.Err(); err != nil {
			c.state.Store(callAnswered)
			c.done <- unavailable(err)
			continue
		}
		c.state.Store(callTaken)
		batch = append(batch, c)
		size += len(c.r.Payload)
	}
	rest := copy(q.waiting, q.waiting[n:])
	clear(q.waiting[rest:])
	q.waiting = q.waiting[:rest]
	return batch
}

// sendBatch stores a batch in one script call, passes the turn on and
// answers each call in it, then reports to the observer the stored
// reminders of callers that have returned. A panic of the script call
// reaches the callers still waiting; one of the observer is logged, as
// there is no caller left to take it.
func (s *RedisScheduler) sendBatch(sh int, q *scheduleQueue, batch []*scheduleCall) {
	defer s.sends.Done()
	rs := make([]Reminder, len(batch))
	for i, c := range batch {
		rs[i] = c.r
	}
	err := s.storeShared(sh, batch, rs)
	s.passTurn(q)
	left := batch[:0:0]
	for _, c := range batch {
		if c.state.CompareAndSwap(callTaken, callAnswered) {
			c.done <- err
		} else if err == nil {
			left = append(left, c)
		}
	}
	for _, c := range left {
		ctx := context.WithoutCancel(c.ctx)
		func() {
			defer func() {
				if v := recover(); v != nil {
					s.opts.logger.LogAttrs(ctx, slog.LevelError, "reminders: observer panicked",
						slog.String("reminder_id", c.r.ID), slog.Any("panic", v))
				}
			}()
			s.scheduled(ctx, sh, []Reminder{c.r})
		}()
	}
}

// storeShared is store on the batch's shared context; a panic is returned
// as a sendPanic.
func (s *RedisScheduler) storeShared(sh int, batch []*scheduleCall, rs []Reminder) (err error) {
	ctx, cancel := sharedContext(batch)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			err = sendPanic{v}
		}
	}()
	return s.store(ctx, sh, rs)
}

// passTurn gives the turn to the longest-waiting call whose context has
// not ended (answering those that have), or ends it.
func (s *RedisScheduler) passTurn(q *scheduleQueue) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.waiting) > 0 {
		next := q.waiting[0]
		q.waiting = slices.Delete(q.waiting, 0, 1)
		if err := next.ctx.Err(); err != nil {
			next.state.Store(callAnswered)
			next.done <- unavailable(err)
			continue
		}
		next.done <- errTurn
		return
	}
	q.leading = false
}

// store stores reminders of shard sh in one script call.
func (s *RedisScheduler) store(ctx context.Context, sh int, rs []Reminder) error {
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
	return nil
}

// sharedContext is the context of a batch's script call: it carries the
// leader's values, is cancelled by none of the callers (each returns when
// its own context ends, without waiting), and has the latest of their
// deadlines, if each has one. Without a deadline the client's ReadTimeout
// and WriteTimeout bound the call.
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
