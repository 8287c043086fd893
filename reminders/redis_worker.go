package reminders

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// pollCap is the longest a worker sleeps before looking at a shard
	// again: it bounds the lateness when a wake-up is lost (a pub/sub
	// reconnect) and how soon a worker notices what others left due.
	pollCap = time.Second
	// claimBatch and claimBytes bound one claim script call (reminders,
	// record bytes), so it stays well under a millisecond of Redis time:
	// about 0.4ms on a 2-core host running three cluster masters and the
	// workers, where 100 a call took 1-2ms. Smaller claims did not slow
	// the drain: workers claim again as handler slots free up.
	claimBatch = 32
	claimBytes = 1 << 20
	// expiredBatch bounds the expired leases one claim call takes back.
	expiredBatch = 100
	// redisOpTimeout is the deadline of each Redis call a worker makes on
	// its own behalf (claims, lease renewals, outcomes), so that a hung
	// server delays a worker, never wedges it. It ends the call there only
	// with ContextTimeoutEnabled on the client; without it, a read under
	// way runs on to the client's ReadTimeout (see NewRedisScheduler).
	redisOpTimeout = 5 * time.Second
	// maxErrorText bounds the error text kept with a failed reminder.
	maxErrorText = 1024
	// never is a shard's next look when it holds nothing (pollCap applies).
	never = math.MaxInt64
)

// Run is a worker: it claims due reminders from every shard and delivers
// them to h, at most WithConcurrency at once, until ctx ends. Any number of
// workers may run, in one process or many.
//
// Delivery is at least once. A claim is a lease (WithLease) renewed every
// third of it while the handler runs; a worker that dies loses its leases,
// and the reminders are delivered again (attempt+1) once they expire. A
// handler that returns nil acknowledges the reminder (it is deleted); an
// error, a panic, or ErrNoHandler from a Mux is a failed attempt, retried
// after a backoff with full jitter (WithBackoff) until WithMaxRetries is
// spent, then moved to the dead set with its last error. A stored record
// that cannot be decoded goes to the dead set as "corrupt" without
// reaching h.
//
// A reminder is never handed to h before its DueAt by the Redis clock. The
// worker estimates each shard's Redis time from a TIME measurement (every
// 30s, and again after a Redis error) plus the local monotonic time
// elapsed since, erring late by a round trip; a host wall clock that is
// off, or stepped by NTP, changes nothing. The claim script never looks
// past the server's own TIME either, so an estimate gone wrong (a failover
// to a master whose clock is behind) delays claims, never hastens them.
// The script reports that TIME, and the worker measures again when its
// estimate is ahead of it, or behind by more than a second (a failover to
// a master whose clock is ahead). The worker sleeps until the earliest due
// time it knows, at most 1s, and is woken at once by a Schedule
// that makes a reminder due within a minute the earliest of its shard, so
// lateness is milliseconds. (One due later is found by a look within
// that second, long before its time.)
//
// If a reminder is rescheduled or cancelled while h runs, or its lease is
// lost, the attempt no longer counts: its outcome is ignored, and its
// context is cancelled when the worker next renews its leases.
//
// When ctx ends, Run stops claiming, waits up to WithShutdownTimeout for
// running handlers, then releases the reminders still running (they are due
// again at once, for other workers, with the same attempt) and cancels
// their contexts. A handler that returned before then is not released:
// its outcome is recorded. Run returns nil once every handler has returned
// and its outcome is recorded or given up (an outcome Redis keeps refusing
// is given up when the lease runs out, which then redelivers it), so a
// handler that ignores its context delays it. Handlers' contexts carry
// ctx's values.
//
// While Redis is unreachable Run keeps trying, with backoff up to 5s, and
// logs; it does not return. It returns an error, wrapping ErrInvalid, only
// when it cannot start (a nil handler).
func (s *RedisScheduler) Run(ctx context.Context, h Handler) error {
	if isNilValue(h) {
		return fmt.Errorf("%w: Run: nil handler", ErrInvalid)
	}
	w := &worker{
		s:        s,
		o:        s.opts,
		h:        h,
		log:      s.opts.logger,
		clock:    newRedisClock(s.opts.clock, len(s.keys)),
		inflight: make(map[*claim]struct{}),
		freed:    make(chan struct{}, 1),
		settleQ:  make(chan *settleReq),

		shards:   make([]shardState, len(s.keys)),
		tokens:   make([]atomic.Uint64, len(s.keys)),
		claims:   make(chan claimResult, len(s.keys)),
		measured: make(chan measureResult, 1),
	}
	w.base, w.stopHandlers = context.WithCancel(context.WithoutCancel(ctx))
	defer w.stopHandlers()

	// Helpers outlive ctx: leases are renewed and outcomes recorded while
	// handlers finish after it ended.
	helpers, stopHelpers := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	box := newWakeBox()
	ready := make(chan struct{})
	wg.Add(4)
	go func() { defer wg.Done(); w.listen(ctx, box, ready) }()
	go func() { defer wg.Done(); w.keepLeases(helpers) }()
	go func() { defer wg.Done(); w.settleLoop(helpers) }()
	go func() { defer wg.Done(); s.checkStrayShards(ctx, w.log) }()

	w.log.LogAttrs(ctx, slog.LevelInfo, "reminders: worker started",
		slog.Int("concurrency", w.o.concurrency), slog.Int("shards", len(s.keys)), slog.Duration("lease", w.o.lease))
	w.loop(ctx, box, ready)
	w.calls.Wait() // claims under way start their handlers first
	w.shutdown()
	stopHelpers()
	wg.Wait()
	w.log.LogAttrs(context.WithoutCancel(ctx), slog.LevelInfo, "reminders: worker stopped")
	return nil
}

// worker is one Run call.
type worker struct {
	s      *RedisScheduler
	o      *options
	h      Handler
	log    *slog.Logger
	clock  *redisClock
	skewed bool // the host clock was off at the last measurement (loop goroutine only)

	// The loop's own (loop goroutine only): each shard's state, and
	// whether a measurement of Redis time runs. Claims and measurements
	// run on goroutines of their own (calls), which hand their results
	// back on claims and measured (redis_shards.go).
	shards    []shardState
	measuring bool
	// A failed measurement is tried again after a backoff, not at the
	// next turn: a stale or forced clock stays stale while Redis is down.
	measureFails   int
	measureRetryAt time.Time
	claims         chan claimResult // capacity: one claim per shard at a time
	// tokens[sh] is the token of the last claim call on shard sh whose
	// reply was read, 0 for none: the next call drops its memo (claim.lua).
	tokens   []atomic.Uint64
	measured chan measureResult // capacity 1: one measurement at a time
	calls    sync.WaitGroup

	base         context.Context // handlers' parent: ctx's values, our cancellation
	stopHandlers context.CancelFunc

	mu       sync.Mutex
	inflight map[*claim]struct{} // claims whose handler goroutine runs
	running  int                 // claims that hold a handler slot (claim.slot)
	reserved int                 // handler slots held for claims under way
	handlers sync.WaitGroup
	freed    chan struct{}   // capacity 1: a handler slot was freed
	settleQ  chan *settleReq // outcomes, batched by settleLoop
}

// free is how many handler slots a claim may take now. A slot is held
// from the claim until the handler returns; its outcome is then recorded
// on the way, in a batch (settleLoop), without the slot, so that the next
// claim need not wait for it. Past the concurrency, each outcome on its
// way takes a slot too, so that running handlers and outcomes on their
// way together stay within twice the concurrency (outcomes alone may
// reach that).
func (w *worker) free() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.o.concurrency
	settling := len(w.inflight) - w.running
	return c - w.running - max(0, settling-c) - w.reserved
}

// loop claims and sleeps until ctx ends. next[sh] is the Redis time (ms)
// when shard sh has something to do (a due reminder, an expiring lease);
// looked[sh] when it was last looked at.
func (w *worker) loop(ctx context.Context, box *wakeBox, ready <-chan struct{}) {
	n := len(w.s.keys)
	next := make([]int64, n)
	looked := make([]time.Time, n)
	timer := time.NewTimer(pollCap)
	defer timer.Stop()
	select { // see listen
	case <-ready:
	case <-timer.C:
	case <-ctx.Done():
		return
	}
	fails, turn := 0, 0
	for ctx.Err() == nil {
		err := w.turn(ctx, box, next, looked, turn)
		turn++
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// A failing Redis may come back as another server (a failover
			// to a replica), with another clock.
			w.clock.remeasure()
			fails++
			d := retryDelay(fails)
			w.log.LogAttrs(ctx, slog.LevelWarn, "reminders: Redis unreachable; worker retrying",
				slog.Int("failures", fails), slog.Duration("retry_in", d), slog.Any("error", err))
			sleepCtx(ctx, d)
			continue
		}
		if fails > 0 {
			w.log.LogAttrs(ctx, slog.LevelInfo, "reminders: Redis reachable again", slog.Int("failures", fails))
			fails = 0
		}
		w.sleep(ctx, box, next, looked, timer)
	}
}

// turn takes in finished claims and measurements, measures Redis time
// when due, then starts a claim on each shard that has something to do,
// starting at a rotating shard for fairness, while handler slots are free.
// It returns an error only while no shard has been measured: nothing can
// be claimed before.
func (w *worker) turn(ctx context.Context, box *wakeBox, next []int64, looked []time.Time, turn int) error {
	w.collect(ctx, next, looked)
	if w.clock.stale() && !w.measuring && !time.Now().Before(w.measureRetryAt) {
		if w.clock.ready() {
			w.measureAsync(ctx)
		} else {
			mctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
			m := w.clock.measure(mctx, w.s.client, w.s.keys)
			cancel()
			if !w.clock.ready() {
				return m.err
			}
			w.applyMeasure(ctx, m)
		}
	}
	box.mergeInto(next, func(sh int) bool { return w.shards[sh].claiming })
	n := len(next)
	for i := 0; i < n; i++ {
		// Run's doc: once ctx has ended, no more claims.
		if ctx.Err() != nil {
			return nil
		}
		free := w.free()
		sh := (turn + i) % n
		st := &w.shards[sh]
		if free <= 0 && st.fails == 0 { // below 0 while a finished claim's slots are still held
			continue // a failing shard's probe holds no slot (claimSize)
		}
		if st.claiming || time.Now().Before(st.retryAt) || !w.clock.measured(sh) {
			continue // under way, failing and backing off alone, or its master's time unknown yet
		}
		if next[sh] > w.clock.nowMillis(sh) && time.Since(looked[sh]) < pollCap {
			continue
		}
		w.claimAsync(ctx, sh, w.claimSize(sh, free))
	}
	return nil
}

// sleep waits until the earliest shard has something to do, a wake-up, a
// freed slot (when full) or ctx's end.
func (w *worker) sleep(ctx context.Context, box *wakeBox, next []int64, looked []time.Time, timer *time.Timer) {
	var freed <-chan struct{}
	wait := pollCap
	if w.free() <= 0 {
		freed = w.freed // due work waits for a slot, not for a time
	} else {
		if w.clock.stale() && !w.measuring {
			// A measurement is due, at once or after a failure's backoff.
			wait = min(wait, time.Until(w.measureRetryAt))
		}
		for sh := range next {
			st := w.shards[sh]
			if st.claiming {
				continue // its result wakes the loop
			}
			if !w.clock.measured(sh) {
				continue // see turn: measured again after measureRetryAt
			}
			if retry := time.Until(st.retryAt); retry > 0 {
				// Failing, backing off alone: nothing to do there before
				// then, whatever its due times or wake-ups say.
				wait = min(wait, retry)
				continue
			}
			wait = min(wait, pollCap-time.Since(looked[sh]))
			if next[sh] != never {
				wait = min(wait, w.clock.until(sh, next[sh]))
			}
		}
		if wait <= 0 {
			return
		}
	}
	timer.Reset(wait)
	select {
	case <-ctx.Done():
	case <-timer.C:
		return
	case <-box.ch:
	case <-freed:
	case r := <-w.claims:
		w.applyClaim(ctx, r, next, looked)
	case m := <-w.measured:
		w.applyMeasure(ctx, m)
	}
	timer.Stop() // Go 1.23 timers: no stale tick can follow a Stop or Reset
}

// retryDelay is the pause after the n-th consecutive failure of Redis:
// 50ms doubling to 5s, jittered down by up to half so that workers do not
// retry in step.
func retryDelay(n int) time.Duration {
	d := 5 * time.Second
	if n < 7 {
		d = min(d, 50*time.Millisecond<<n)
	}
	return d/2 + rand.N(d/2+1)
}

// claim runs one claim script on shard sh for up to max reminders, starts
// a handler goroutine for each, and returns when the shard next has
// something to do (Redis ms; never when empty). When the batch was full,
// that is a due time already past, so the loop claims again at once.
func (w *worker) claim(ctx context.Context, sh, max int) (int64, error) {
	now := w.clock.nowMillis(sh)
	deadline := now + w.o.lease.Milliseconds()
	// Not ctx: a claim whose reply is lost to a shutdown would sit leased
	// until its lease expires.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), redisOpTimeout)
	defer cancel()
	// The call's token lets a run of it that go-redis sends again (the
	// first reply lost with its connection) return what the first run
	// claimed (claim.lua).
	token := rand.Uint64() | 1
	res, err := scriptClaim.Run(cctx, w.s.client, w.s.keys[sh].all(),
		now, deadline, max, claimBytes, w.o.maxRetries+1, expiredBatch,
		strconv.FormatUint(token, 36), tokenArg(w.tokens[sh].Load())).Slice()
	if err != nil {
		return 0, unavailable(err)
	}
	w.tokens[sh].Store(token)
	if len(res) != 6 {
		return 0, unavailable(fmt.Errorf("claim: unexpected reply %v", res))
	}
	w.checkEstimate(ctx, sh, now, str(res[5]))
	claimed, _ := res[0].([]any)
	for i := 0; i+1 < len(claimed); i += 2 {
		id, _ := claimed[i].(string)
		raw, _ := claimed[i+1].(string)
		w.start(sh, id, raw, deadline)
	}
	retaken, _ := res[1].([]any)
	for i := 0; i+1 < len(retaken); i += 2 {
		id, _ := retaken[i].(string)
		raw, _ := retaken[i+1].(string)
		rec, _ := parseRecord(raw)
		w.log.LogAttrs(ctx, slog.LevelWarn, "reminders: lease expired (worker gone?); delivering again",
			slog.String("task_name", rec.kind), slog.String("reminder_id", id), slog.Int("attempt", rec.attempt))
	}
	dead, _ := res[2].([]any)
	for i := 0; i+2 < len(dead); i += 3 {
		id, _ := dead[i].(string)
		reason, _ := dead[i+1].(string)
		raw, _ := dead[i+2].(string)
		rec, _ := parseRecord(raw)
		w.buried(ctx, sh, id, rec.kind, rec.attempt, deadReason(reason))
	}
	// The next due time, and the first ms at which the earliest lease has
	// expired (a lease lasts through its deadline).
	nextAt := int64(never)
	for i, v := range res[3:5] {
		if ms, err := strconv.ParseInt(str(v), 10, 64); err == nil {
			nextAt = min(nextAt, ms+int64(i))
		}
	}
	return nextAt, nil
}

// tokenArg is a claim token as claim.lua takes it: base 36, or the empty
// string for none.
func tokenArg(t uint64) string {
	if t == 0 {
		return ""
	}
	return strconv.FormatUint(t, 36)
}

// buried reports a reminder dead-lettered without a handler's error: a
// corrupt record, or a lease that expired on its last attempt.
func (w *worker) buried(ctx context.Context, sh int, id, kind string, attempt int, reason error) {
	if reason == errCorrupt {
		// What a partial parse of a corrupt record gave is not its Kind
		// nor its attempt (Event's doc: empty Kind, Attempt 0).
		kind, attempt = "", 0
	}
	w.log.LogAttrs(ctx, slog.LevelWarn, "reminders: reminder moved to the dead set",
		slog.String("task_name", kind), slog.String("reminder_id", id), slog.Int("attempt", attempt),
		slog.Int("shard", sh), slog.String("reason", reason.Error()))
	w.observe(ctx, Event{Type: EventDead, ID: id, Kind: kind, Attempt: attempt, Shard: sh, Err: reason})
}

// shutdown runs once ctx has ended and no more claims are made: it waits
// for the handlers up to the shutdown timeout, then releases what still
// runs and cancels it, and waits for every handler goroutine to return.
func (w *worker) shutdown() {
	done := make(chan struct{})
	go func() { w.handlers.Wait(); close(done) }()
	timer := time.NewTimer(w.o.shutdownTimeout)
	defer timer.Stop()
	select {
	case <-done:
		return
	case <-timer.C:
	}
	w.release()
	w.stopHandlers()
	<-done
}
