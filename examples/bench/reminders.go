package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// reminderResult is one system's reminder figures.
type reminderResult struct {
	System string `json:"system"`

	// Schedule one reminder per call, cfg.ScheduleConc callers, due in an
	// hour (no worker runs).
	ScheduleN         int64   `json:"schedule_n"`
	SchedulePerSec    float64 `json:"schedule_per_sec"`
	ScheduleP50       float64 `json:"schedule_p50_ms"`
	ScheduleP99       float64 `json:"schedule_p99_ms"`
	ScheduleTripsPerR float64 `json:"schedule_round_trips_per_reminder"`

	// Memory of the reminders the schedule phase left pending, per
	// reminder: INFO used_memory delta, and MEMORY USAGE summed over the
	// system's database, in all and by key type ("hash", "zset", ...).
	MemoryPerPending            float64            `json:"memory_per_pending_bytes"`
	MemoryUsagePerPending       float64            `json:"memory_usage_per_pending_bytes"`
	MemoryUsageByTypePerPending map[string]float64 `json:"memory_usage_by_type_per_pending_bytes"`

	// Batch scheduling of the drain's input (all due at once), in batches
	// of cfg.Batch, cfg.ScheduleConc callers; a system without a batch
	// call schedules one per call (BatchAPI false).
	BatchAPI       bool    `json:"batch_api"`
	BatchN         int64   `json:"batch_n"`
	BatchPerSec    float64 `json:"batch_per_sec"`
	BatchTripsPerR float64 `json:"batch_round_trips_per_reminder"`

	// Drain of BatchN due reminders with cfg.Handlers handlers.
	DrainN          int64   `json:"drain_n"`
	DrainPerSec     float64 `json:"drain_per_sec"`
	DrainComplete   bool    `json:"drain_complete"`
	DrainDuplicates int64   `json:"drain_duplicates"`
	DrainSlowest    slowest `json:"drain_slowest_command"`

	// Lateness at a steady cfg.Rate per second, due cfg offsets ahead.
	SteadyScheduled  int64   `json:"steady_scheduled"`
	SteadyDelivered  int64   `json:"steady_delivered"`
	SteadyDuplicates int64   `json:"steady_duplicates"`
	Lateness         summary `json:"lateness"`
	Early            int     `json:"early"`

	Errors []string `json:"errors,omitempty"`
}

func (r *reminderResult) fail(phase string, err error) {
	r.Errors = append(r.Errors, phase+": "+err.Error())
}

// remindersBench runs the reminder phases for one system.
type remindersBench struct {
	cfg      config
	sys      system
	admin    *client // SLOWLOG and INFO, outside the measured client
	progress func(string)
}

// runReminders measures the systems phase by phase: a phase runs for
// every system before the next phase starts, and the system that goes
// first alternates from phase to phase. The two figures a ratio compares
// are so taken seconds apart rather than a minute, and neither system
// always runs first: on a shared host whose speed drifts, the drift then
// falls on both sides. A failed phase is recorded in its system's result
// and the next phase still runs; once ctx ends, each system's result
// records that once, and nothing more runs.
func runReminders(ctx context.Context, benches []*remindersBench) []*reminderResult {
	results := make([]*reminderResult, len(benches))
	for i, b := range benches {
		results[i] = &reminderResult{System: b.sys.name()}
	}
	for n, phase := range reminderPhases {
		for k := range benches {
			i := k
			if n%2 == 1 {
				i = len(benches) - 1 - k
			}
			if err := ctx.Err(); err != nil {
				for _, res := range results {
					res.fail(phase.name, err)
				}
				return results
			}
			b, res := benches[i], results[i]
			b.progress(fmt.Sprintf("reminders: %s %s", b.sys.name(), phase.name))
			if err := phase.run(b, ctx, res); err != nil {
				res.fail(phase.name, err)
			}
		}
	}
	return results
}

// reminderPhases run in this order.
var reminderPhases = []struct {
	name string
	run  func(*remindersBench, context.Context, *reminderResult) error
}{
	{"schedule", (*remindersBench).scheduleOne},
	{"batch and drain", (*remindersBench).batchAndDrain},
	{"steady", (*remindersBench).steady},
}

// batchAndDrain writes the drain's input and drains it, back to back, so
// that neither system's batch runs while the other's 100,000 reminders
// sit in Redis. A batch that starts after a flush reuses the memory Redis
// freed; one that starts next to the other's data takes fresh pages from
// the kernel: kit's batch then cost Redis 7,058 minor page faults in its
// 0.5 s (1,943 for batch and drain together when run back to back), and
// ran about a third slower. After a failed batch nothing is drained: the
// drain counts on exactly the reminders the batch reports written.
func (b *remindersBench) batchAndDrain(ctx context.Context, res *reminderResult) error {
	if err := b.scheduleBatch(ctx, res); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	return b.drain(ctx, res)
}

// reminderID is the idempotency key of reminder seq of a phase.
func reminderID(phase string, seq int64) string {
	return "appointment:" + phase + ":" + strconv.FormatInt(seq, 10)
}

// scheduleOne schedules cfg.Reminders reminders one per call, due in an
// hour, and measures the memory they take while pending.
func (b *remindersBench) scheduleOne(ctx context.Context, res *reminderResult) error {
	c := b.sys.client()
	if err := c.FlushDB(ctx).Err(); err != nil {
		return err
	}
	// Load the scripts first, so the memory delta below holds reminders
	// only.
	warm := job{id: "warm", due: time.Now().Add(time.Hour), payload: encodePayload(0, time.Now())}
	if err := b.sys.schedule(ctx, warm); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if err := c.FlushDB(ctx).Err(); err != nil {
		return err
	}
	mem0, err := usedMemory(ctx, b.admin)
	if err != nil {
		return err
	}
	due := time.Now().Add(time.Hour)
	var next atomic.Int64
	load := runLoad(ctx, b.cfg.ScheduleConc, b.cfg.PhaseTimeout, int64(b.cfg.Reminders), c.rt, func(ctx context.Context, _ int) error {
		seq := next.Add(1) - 1
		return b.sys.schedule(ctx, job{id: reminderID("one", seq), due: due, payload: encodePayload(int(seq), due)})
	})
	sum := summarize(load.Lat)
	res.ScheduleN, res.SchedulePerSec = load.Ops, load.opsPerSec()
	res.ScheduleP50, res.ScheduleP99, res.ScheduleTripsPerR = sum.P50, sum.P99, load.tripsPerOp()
	if load.Err != nil {
		return load.Err
	}
	mem1, err := usedMemory(ctx, b.admin)
	if err != nil {
		return err
	}
	usage, err := dbMemoryUsage(ctx, c)
	if err != nil {
		return err
	}
	res.MemoryPerPending = ratio(float64(mem1-mem0), float64(load.Ops))
	res.MemoryUsagePerPending = ratio(float64(usage.total()), float64(load.Ops))
	res.MemoryUsageByTypePerPending = make(map[string]float64, len(usage))
	for typ, n := range usage {
		res.MemoryUsageByTypePerPending[typ] = ratio(float64(n), float64(load.Ops))
	}
	return c.FlushDB(ctx).Err()
}

// scheduleBatch writes the drain's input: cfg.Reminders reminders all due
// at the same instant, which has passed when the drain starts.
func (b *remindersBench) scheduleBatch(ctx context.Context, res *reminderResult) error {
	c := b.sys.client()
	due := time.Now()
	n := b.cfg.Reminders
	batches := (n + b.cfg.Batch - 1) / b.cfg.Batch
	mk := func(seq int) job {
		return job{id: reminderID("drain", int64(seq)), due: due, payload: encodePayload(seq, due)}
	}
	bs, ok := b.sys.(batcher)
	res.BatchAPI = ok
	var load loadResult
	var next atomic.Int64
	if ok {
		load = runLoad(ctx, b.cfg.ScheduleConc, b.cfg.PhaseTimeout, int64(batches), c.rt, func(ctx context.Context, _ int) error {
			first := int(next.Add(1)-1) * b.cfg.Batch
			js := make([]job, 0, b.cfg.Batch)
			for seq := first; seq < min(first+b.cfg.Batch, n); seq++ {
				js = append(js, mk(seq))
			}
			return bs.scheduleBatch(ctx, js)
		})
		// Count reminders, not calls; the last batch may be short.
		load.Ops = min(load.Ops*int64(b.cfg.Batch), int64(n))
	} else {
		load = runLoad(ctx, b.cfg.ScheduleConc, b.cfg.PhaseTimeout, int64(n), c.rt, func(ctx context.Context, _ int) error {
			return b.sys.schedule(ctx, mk(int(next.Add(1)-1)))
		})
	}
	res.BatchN, res.BatchPerSec, res.BatchTripsPerR = load.Ops, load.opsPerSec(), load.tripsPerOp()
	return load.Err
}

// drain starts cfg.Handlers handlers on the reminders scheduleBatch left,
// all due, and times until the last was delivered, watching SLOWLOG. The
// SLOWLOG threshold is lowered for the drain only: its entries take server
// memory (a script call's arguments, up to a few KiB each), which the
// memory phase would otherwise count as the system's.
func (b *remindersBench) drain(ctx context.Context, res *reminderResult) (err error) {
	c := b.sys.client()
	defer c.FlushDB(context.WithoutCancel(ctx))
	if res.BatchN == 0 {
		return errors.New("nothing to drain")
	}
	old, err := lowerSlowlog(ctx, b.admin, b.cfg.SlowlogBelow, b.cfg.SlowlogLen)
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		err = errors.Join(err, old.restore(cctx, b.admin))
	}()
	if err != nil {
		return err
	}
	d := newDeliveries(int(res.BatchN))
	watch, err := newSlowWatch(ctx, b.admin, c.Options().ClientName, b.cfg.SlowlogLen)
	if err != nil {
		return err
	}
	wctx, stopWatch := context.WithCancel(ctx)
	watchErr := make(chan error, 1)
	go func() { watchErr <- watch.every(wctx, 100*time.Millisecond) }()

	begin := time.Now()
	stop, err := b.sys.start(b.cfg.Handlers, d.handle)
	if err != nil {
		stopWatch()
		<-watchErr
		return err
	}
	res.DrainComplete = d.wait(b.cfg.PhaseTimeout)
	elapsed := time.Since(begin)
	res.DrainN = d.count.Load()
	res.DrainPerSec = ratio(float64(res.DrainN), elapsed.Seconds())
	stopErr := stop()
	stopWatch()
	werr := <-watchErr
	res.DrainDuplicates = d.duplicates.Load()
	res.DrainSlowest = watch.best
	if !res.DrainComplete {
		return fmt.Errorf("%d of %d delivered in %s", res.DrainN, res.BatchN, b.cfg.PhaseTimeout)
	}
	if n := d.bad.Load(); n > 0 {
		return fmt.Errorf("%d deliveries had a foreign payload", n)
	}
	return errors.Join(stopErr, werr)
}

// steady schedules cfg.Rate reminders per second for cfg.SteadyDuration
// while handlers run, each due a random sub-second offset after it is
// scheduled, and records each one's lateness.
func (b *remindersBench) steady(ctx context.Context, res *reminderResult) error {
	c := b.sys.client()
	if err := c.FlushDB(ctx).Err(); err != nil {
		return err
	}
	defer c.FlushDB(context.WithoutCancel(ctx))
	total := int(float64(b.cfg.Rate) * b.cfg.SteadyDuration.Seconds())
	d := newDeliveries(total)
	stop, err := b.sys.start(b.cfg.Handlers, d.handle)
	if err != nil {
		return err
	}
	// The same offsets for every system: a fixed seed.
	offsets := make([]time.Duration, total)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range offsets {
		offsets[i] = b.cfg.MinOffset + time.Duration(rng.Int64N(int64(b.cfg.MaxOffset-b.cfg.MinOffset)))
	}
	// A few producers share the beat, so that one slow call does not hold
	// back the next reminders.
	const producers = 4
	interval := time.Second / time.Duration(b.cfg.Rate)
	begin := time.Now()
	var (
		wg        sync.WaitGroup
		scheduled atomic.Int64
		firstErr  atomic.Pointer[error]
	)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < total && ctx.Err() == nil; i += producers {
				time.Sleep(time.Until(begin.Add(time.Duration(i) * interval)))
				due := time.Now().Add(offsets[i])
				err := b.sys.schedule(ctx, job{id: reminderID("steady", int64(i)), due: due, payload: encodePayload(i, due)})
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				scheduled.Add(1)
			}
		}()
	}
	wg.Wait()
	complete := d.wait(b.cfg.MaxOffset + b.cfg.LateGrace)
	stopErr := stop()
	late, early := d.lateness()
	res.SteadyScheduled, res.SteadyDelivered = scheduled.Load(), d.count.Load()
	res.SteadyDuplicates = d.duplicates.Load()
	res.Lateness, res.Early = summarize(late), early
	if p := firstErr.Load(); p != nil {
		return *p
	}
	if !complete {
		return fmt.Errorf("%d of %d delivered within %s of the last due time", res.SteadyDelivered, total, b.cfg.MaxOffset+b.cfg.LateGrace)
	}
	return stopErr
}
