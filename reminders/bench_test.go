package reminders_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/reminders"
)

// The benchmarks run on the eager scheduler (in memory, the handler runs
// inside Schedule) and on Redis: miniredis by default, whose figures say
// little about a real server; run them against one with
//
//	REDIS_URL=redis://127.0.0.1:6379/0 go test -run '^$' -bench . -benchmem ./reminders
//
// examples/bench measures the same against asynq.

// benchPayload is 77 bytes, about what an appointment reminder carries.
var benchPayload = []byte(`{"appointment_id":"apt-20261130-0042","user_id":"u-123456","at":"2026-12-01"}`)

var benchSeq atomic.Int64

func benchReminder(due time.Time) reminders.Reminder {
	return reminders.Reminder{
		ID:      "appointment:" + strconv.FormatInt(benchSeq.Add(1), 10),
		Kind:    "appointments.send_reminder",
		DueAt:   due,
		Payload: benchPayload,
	}
}

// benchRedis returns a Redis scheduler on a fresh prefix and its round-trip
// counter.
func benchRedis(b *testing.B, opts ...reminders.Option) (*reminders.RedisScheduler, *redistest.TripCounter) {
	b.Helper()
	r := redistest.New(b)
	trips := &redistest.TripCounter{}
	r.Client.AddHook(trips)
	s, err := reminders.NewRedisScheduler(r.Client, append([]reminders.Option{reminders.WithKeyPrefix(r.Prefix)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	return s, trips
}

// BenchmarkSchedule schedules one reminder per call, due in an hour, one
// call at a time and from 8 goroutines per GOMAXPROCS (16 on 2 cores). On
// the eager scheduler the call includes the (empty) handler.
func BenchmarkSchedule(b *testing.B) {
	eager, err := reminders.NewEagerScheduler(reminders.HandlerFunc(func(context.Context, reminders.Delivery) error { return nil }))
	if err != nil {
		b.Fatal(err)
	}
	rs, trips := benchRedis(b)
	backends := []struct {
		name  string
		s     reminders.Scheduler
		trips *redistest.TripCounter
	}{{"eager", eager, nil}, {string(redistest.CurrentMode()), rs, trips}}
	for _, be := range backends {
		for _, parallel := range []bool{false, true} {
			name := be.name + "/serial"
			if parallel {
				name = be.name + "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				due := time.Now().Add(time.Hour)
				if err := be.s.Schedule(ctx, benchReminder(due)); err != nil { // loads the script
					b.Fatal(err)
				}
				var trips0 int64
				if be.trips != nil {
					trips0 = be.trips.Trips()
				}
				b.ReportAllocs()
				b.ResetTimer()
				if !parallel {
					for range b.N {
						if err := be.s.Schedule(ctx, benchReminder(due)); err != nil {
							b.Fatal(err)
						}
					}
				} else {
					b.SetParallelism(8)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := be.s.Schedule(ctx, benchReminder(due)); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				b.StopTimer()
				if be.trips != nil {
					b.ReportMetric(float64(be.trips.Trips()-trips0)/float64(b.N), "trips/op")
				}
			})
		}
	}
}

// BenchmarkScheduleMany schedules batches of 500 reminders; one op is one
// batch, and ns/reminder is the cost of each reminder in it.
func BenchmarkScheduleMany(b *testing.B) {
	const batch = 500
	s, trips := benchRedis(b)
	ctx := context.Background()
	due := time.Now().Add(time.Hour)
	rs := make([]reminders.Reminder, batch)
	fill := func() {
		for i := range rs {
			rs[i] = benchReminder(due)
		}
	}
	fill()
	if err := s.ScheduleMany(ctx, rs); err != nil {
		b.Fatal(err)
	}
	trips0 := trips.Trips()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		fill() // fresh IDs: rescheduling pending ones is another path
		b.StartTimer()
		if err := s.ScheduleMany(ctx, rs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/reminder")
	b.ReportMetric(float64(trips.Trips()-trips0)/float64(b.N), "trips/op")
}

// BenchmarkDrain delivers b.N reminders, all due before the worker starts,
// with 64 handlers that do nothing: one op is one delivered reminder,
// claim to acknowledgement. Scheduling them is not timed.
func BenchmarkDrain(b *testing.B) {
	const handlers = 64
	s, _ := benchRedis(b, reminders.WithConcurrency(handlers))
	ctx := context.Background()
	due := time.Now()
	pending := make([]reminders.Reminder, 0, 500)
	for i := range b.N {
		pending = append(pending, benchReminder(due))
		if len(pending) == cap(pending) || i == b.N-1 {
			if err := s.ScheduleMany(ctx, pending); err != nil {
				b.Fatal(err)
			}
			pending = pending[:0]
		}
	}
	var handled atomic.Int64
	done := make(chan struct{})
	h := reminders.HandlerFunc(func(context.Context, reminders.Delivery) error {
		if handled.Add(1) == int64(b.N) {
			close(done)
		}
		return nil
	})
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() { ran <- s.Run(runCtx, h) }()
	select {
	case <-done:
	case err := <-ran:
		stop()
		b.Fatalf("Run returned before the drain: %v", err)
	case <-time.After(time.Minute + time.Duration(b.N)*time.Millisecond):
		stop()
		b.Fatalf("%d of %d delivered", handled.Load(), b.N)
	}
	b.StopTimer()
	stop()
	if err := <-ran; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reminders/s")
}
