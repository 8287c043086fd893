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
// One Schedule script call per shard is in flight per scheduler
// (ScheduleMany of more than one reminder goes its own way). A call that
// finds none sends its own. When a script call ends and calls are queued, a
// sender goroutine takes them in batches, one script call after another,
// until the queue is empty, and then ends: no goroutine outlives the load.
// Every queued caller waits for its own outcome or its own context, so it
// returns when its context ends, whatever the others' do. One in flight
// keeps batches large, and queues a Schedule retrying a call that gave up
// while its batch was on its way behind that batch.

// scheduleQueue is one shard's group commit state.
type scheduleQueue struct {
	mu      sync.Mutex
	waiting []*scheduleCall // arrival order
	busy    bool            // a script call is on its way, or a sender runs
}

// A scheduleCall's state, for a call whose context ends after its reminder
// was taken into a batch: then the caller and the sender race to mark it,
// and the loser learns who answers.
const (
	callQueued   int32 = iota // in waiting
	callTaken                 // in a batch on its way
	callAnswered              // its outcome is (or is about to be) in done
	callLeft                  // its caller returned; the sender reports it to the observer
)

// scheduleCall is one queued Schedule call.
type scheduleCall struct {
	ctx   context.Context
	r     Reminder
	state atomic.Int32
	done  chan error // capacity 1: the outcome
}

// scheduleOne stores one reminder, sharing a script call with concurrent
// calls for the same shard.
func (s *RedisScheduler) scheduleOne(ctx context.Context, r Reminder) error {
	sh := shardOf(r.ID, len(s.keys))
	q := &s.queues[sh]
	q.mu.Lock()
	if !q.busy {
		q.busy = true
		q.mu.Unlock()
		return s.sendAlone(ctx, sh, q, r)
	}
	c := &scheduleCall{ctx: ctx, r: r, done: make(chan error, 1)}
	q.waiting = append(q.waiting, c)
	q.mu.Unlock()
	select {
	case err := <-c.done:
		return s.answered(sh, c, err)
	case <-ctx.Done():
		return s.abandon(sh, q, c)
	}
}

// sendAlone stores r in a script call of its own, on the caller's
// goroutine and context, then hands the calls that queued meanwhile to a
// sender.
func (s *RedisScheduler) sendAlone(ctx context.Context, sh int, q *scheduleQueue, r Reminder) error {
	err := func() error {
		defer s.idle(sh, q) // even if the hooks or the logger panic
		return s.store(ctx, sh, []Reminder{r})
	}()
	if err == nil {
		s.scheduled(ctx, sh, []Reminder{r})
	}
	return err
}

// idle ends a lone script call: with calls queued, a sender takes them.
func (s *RedisScheduler) idle(sh int, q *scheduleQueue) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiting) == 0 {
		q.busy = false
		return
	}
	s.sends.Add(1)
	go s.sender(sh, q)
}

// answered reports c's stored reminder to the observer, on its caller's
// goroutine, and returns err; a panic of the batch's script call is raised
// again here, as it would be on a lone call.
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

// abandon returns for a queued call whose context ended. Still queued, it
// leaves the queue and nothing of it is written. Taken into a batch on its
// way, its reminder may be stored or not, as with a reply lost on the way
// back: ErrUnavailable.
func (s *RedisScheduler) abandon(sh int, q *scheduleQueue, c *scheduleCall) error {
	q.mu.Lock()
	if i := slices.Index(q.waiting, c); i >= 0 {
		q.waiting = slices.Delete(q.waiting, i, i+1)
		q.mu.Unlock()
		return unavailable(c.ctx.Err())
	}
	q.mu.Unlock()
	// Out of the queue, under q.mu: answered by takeBatch, or taken.
	if c.state.CompareAndSwap(callTaken, callLeft) {
		return unavailable(c.ctx.Err())
	}
	return s.answered(sh, c, <-c.done) // in done, or about to be: the sender won the race
}

// sender stores the queued calls in batches, one script call at a time,
// and ends when the queue is empty.
func (s *RedisScheduler) sender(sh int, q *scheduleQueue) {
	defer s.sends.Done()
	for {
		batch, more := s.takeBatch(q)
		if !more {
			return
		}
		if len(batch) > 0 {
			s.sendBatch(sh, q, batch)
		}
	}
}

// takeBatch is the queued calls that fit one script call (chunkFull), in arrival order, each marked callTaken; calls whose context
// ended are answered and left out, so the batch may be empty. With
// nothing queued, the shard goes idle and more is false.
func (s *RedisScheduler) takeBatch(q *scheduleQueue) (batch []*scheduleCall, more bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiting) == 0 {
		q.busy = false
		return nil, false
	}
	size, n := 0, 0
	for _, c := range q.waiting {
		if chunkFull(len(batch), size, len(c.r.Payload)) {
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
	return batch, true
}

// sendBatch stores a batch in one script call and answers each call in
// it. The stored reminders of callers that have returned meanwhile are
// reported to the observer from a goroutine of their own: an observer may
// call Schedule, which waits for this sender. A panic that no caller is
// left to take is logged.
func (s *RedisScheduler) sendBatch(sh int, q *scheduleQueue, batch []*scheduleCall) {
	rs := make([]Reminder, len(batch))
	for i, c := range batch {
		rs[i] = c.r
	}
	err := s.storeShared(sh, q, batch, rs)
	answered := false
	var left []*scheduleCall
	for _, c := range batch {
		if c.state.CompareAndSwap(callTaken, callAnswered) {
			c.done <- err
			answered = true
		} else if err == nil {
			left = append(left, c)
		}
	}
	if p, ok := err.(sendPanic); ok && !answered {
		s.logSafely(context.WithoutCancel(batch[0].ctx), slog.LevelError, "reminders: panic while scheduling",
			slog.Int("reminders", len(rs)), slog.Any("panic", p.value))
	}
	if len(left) > 0 {
		s.sends.Add(1)
		go s.reportLeft(sh, left)
	}
}

// answer gives every call of the batch still waiting err.
func answer(batch []*scheduleCall, err error) {
	for _, c := range batch {
		if c.state.CompareAndSwap(callTaken, callAnswered) {
			c.done <- err
		}
	}
}

// errExited answers a batch whose script call ended the sender's goroutine
// (runtime.Goexit in a hook: a test's t.FailNow, for one), and fails a
// ScheduleMany shard whose transaction's goroutine ended so.
var errExited = unavailable(errGoexit)

// errGoexit is errExited's cause, for scheduleTx, which wraps its errors
// in ErrUnavailable itself.
var errGoexit = errors.New("reminders: the goroutine writing the reminders exited")

// logSafely logs, and survives a logger that panics: it runs where no
// caller would take the panic.
func (s *RedisScheduler) logSafely(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	defer func() { _ = recover() }()
	s.opts.logger.LogAttrs(ctx, level, msg, attrs...)
}

// reportLeft reports the stored reminders of callers that returned before
// their batch's reply. A panic of the observer is logged: there is no
// caller left to take it.
func (s *RedisScheduler) reportLeft(sh int, left []*scheduleCall) {
	defer s.sends.Done()
	for _, c := range left {
		ctx := context.WithoutCancel(c.ctx)
		func() {
			defer func() {
				if v := recover(); v != nil {
					s.logSafely(ctx, slog.LevelError, "reminders: observer or logger panicked",
						slog.String("reminder_id", c.r.ID), slog.Any("panic", v))
				}
			}()
			s.scheduled(ctx, sh, []Reminder{c.r})
		}()
	}
}

// storeShared is store on the batch's shared context; a panic is returned
// as a sendPanic. Should the call end the goroutine instead
// (runtime.Goexit, which no recover stops), the batch is answered and the
// queue handed on before it goes, so that the shard is not left busy with
// no sender.
func (s *RedisScheduler) storeShared(sh int, q *scheduleQueue, batch []*scheduleCall, rs []Reminder) (err error) {
	ctx, cancel := sharedContext(batch)
	defer cancel()
	returned := false
	defer func() {
		if v := recover(); v != nil {
			err = sendPanic{v}
		} else if !returned {
			answer(batch, errExited)
			s.idle(sh, q)
		}
	}()
	err = s.store(ctx, sh, rs)
	returned = true
	return err
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
// first caller's values, is cancelled by none of the callers (each returns
// when its own context ends, without waiting), and has the latest of their
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
