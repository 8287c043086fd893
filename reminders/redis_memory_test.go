package reminders_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/reminders"
)

// BenchmarkRedisMemoryPerPending reports the Redis memory one pending
// reminder costs (B/reminder: MEMORY USAGE of the shard's keys, exact,
// over the count; due-B/reminder and rec-B/reminder are the due index's
// part, its buckets and heads, and the record hash's), for an appointment
// reminder: an 18-byte ID, a 26-byte Kind, a 25-byte JSON payload. It
// stores 50,000 reminders in one shard whatever b.N is (the figure is per
// reminder, and one shard packs its due index up to about 100,000; see
// keys.go), and reports no ns/op. It needs a real Redis (REDIS_URL or
// REDIS_CLUSTER_ADDRS); miniredis has no MEMORY USAGE.
//
// For comparison: asynq v0.26.0 keeps one hash key per task plus a sorted
// set entry, about 524 B per scheduled task of the same shape on Redis
// 7.0.15 (INFO used_memory over 100,000 tasks). Here a reminder is an
// entry of a small packed sorted set and a field of one shared hash: no
// key of its own.
func BenchmarkRedisMemoryPerPending(b *testing.B) {
	r := redistest.New(b)
	if r.Mode == redistest.Mini {
		b.Skip("needs a real Redis: miniredis has no MEMORY USAGE")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := reminders.NewRedisScheduler(r.Client, reminders.WithKeyPrefix(r.Prefix))
	if err != nil {
		b.Fatal(err)
	}
	const n = 50_000
	due := time.Now().Add(time.Hour)
	rs := make([]reminders.Reminder, 0, 1000)
	for i := 0; i < n; i++ {
		id := 100000 + i
		rs = append(rs, reminders.Reminder{ID: fmt.Sprintf("appointment:%d", id), Kind: "appointments.send_reminder",
			DueAt: due, Payload: fmt.Appendf(nil, `{"appointment_id":%d}`, id)})
		if len(rs) == cap(rs) || i == n-1 {
			if err := s.ScheduleMany(ctx, rs); err != nil {
				b.Fatal(err)
			}
			rs = rs[:0]
		}
	}
	// Every key of the shard: the due buckets (sorted sets) and their
	// heads, the record hash and the kinds hash.
	tag := "{" + r.Prefix + ":0}:"
	var total, index, rec int64
	iter := r.Client.Scan(ctx, 0, tag+"*", 1000).Iterator() // the tag holds no glob character
	for iter.Next(ctx) {
		key := iter.Val()
		v, err := r.Client.MemoryUsage(ctx, key, 0).Result()
		if err != nil {
			b.Fatal(err)
		}
		total += v
		switch {
		case strings.HasPrefix(key, tag+"due") || key == tag+"heads":
			index += v
		case key == tag+"rec":
			rec += v
		}
	}
	if err := iter.Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(index)/float64(n), "due-B/reminder") // the due index's share
	b.ReportMetric(float64(rec)/float64(n), "rec-B/reminder")   // the record hash's
	b.ReportMetric(float64(total)/float64(n), "B/reminder")
	b.ReportMetric(0, "ns/op") // a fixed count, whatever b.N: no time per operation
}
