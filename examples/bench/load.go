package main

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// errExhausted is returned by an operation whose prepared input is used up
// (RevokeAllForUser runs out of users with 20 sessions): the load ends
// there, and that call is neither counted nor timed.
var errExhausted = errors.New("input exhausted")

// op is one timed operation, called by worker w (0..conc-1). It must be
// safe to call from conc goroutines at once, one call per worker at a time.
type op func(ctx context.Context, w int) error

// loadResult is what a closed-loop load measured.
type loadResult struct {
	Ops     int64         // operations that succeeded
	Elapsed time.Duration // first call started to last call returned
	Lat     latencies     // one per successful operation
	Trips   int64         // round trips counted by the hook meanwhile
	Err     error         // the first error, which stopped the load
}

// add merges r2, a later run of the same load, into r.
func (r *loadResult) add(r2 loadResult) {
	r.Ops += r2.Ops
	r.Elapsed += r2.Elapsed
	r.Lat = append(r.Lat, r2.Lat...)
	r.Trips += r2.Trips
	if r.Err == nil {
		r.Err = r2.Err
	}
}

// opsPerSec is the throughput of the load.
func (r loadResult) opsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// tripsPerOp is the average number of round trips an operation made.
func (r loadResult) tripsPerOp() float64 {
	return ratio(float64(r.Trips), float64(r.Ops))
}

// runLoad runs a closed loop: conc workers each call f back to back, timing
// every call, until d has passed, maxOps calls have been started (0: no
// limit), f returns errExhausted, f fails, or ctx ends. Each worker keeps
// its own samples, so the loop itself takes no lock.
func runLoad(ctx context.Context, conc int, d time.Duration, maxOps int64, rt *roundTrips, f op) loadResult {
	var (
		started  atomic.Int64
		stop     atomic.Bool
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	perWorker := make([]latencies, conc)
	trips0 := rt.load()
	begin := time.Now()
	deadline := begin.Add(d)
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make(latencies, 0, 4096)
			defer func() { perWorker[w] = lat }()
			for !stop.Load() && ctx.Err() == nil {
				if maxOps > 0 && started.Add(1) > maxOps {
					return
				}
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				err := f(ctx, w)
				if err != nil {
					if !errors.Is(err, errExhausted) {
						errOnce.Do(func() { firstErr = err })
					}
					stop.Store(true)
					return
				}
				lat = append(lat, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	res := loadResult{Elapsed: time.Since(begin), Trips: rt.load() - trips0, Err: firstErr}
	if firstErr == nil && ctx.Err() != nil {
		res.Err = ctx.Err()
	}
	for _, l := range perWorker {
		res.Lat = append(res.Lat, l...)
	}
	res.Ops = int64(len(res.Lat))
	return res
}
