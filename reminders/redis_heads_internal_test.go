package reminders

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
)

// TestRedisHeadsStayExact: each due bucket's head is its earliest due time
// (scripts/lib.lua) after every change that can move that time later:
// rescheduling later one at a time, in a ScheduleMany transaction and in
// ScheduleMany's script calls, and cancelling. Heads left too low piled up
// once, and a due reminder waited behind them, a claim call each.
func TestRedisHeadsStayExact(t *testing.T) {
	r := redistest.New(t)
	s, err := NewRedisScheduler(r.Client, WithKeyPrefix(r.Prefix), WithShards(1))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k := s.keys[0]

	check := func(when string) {
		t.Helper()
		heads, err := r.Client.ZRangeWithScores(ctx, k.heads, 0, -1).Result()
		require.NoError(t, err)
		headed := map[string]bool{}
		for _, h := range heads {
			b := h.Member.(string)
			headed[b] = true
			first, err := r.Client.ZRangeWithScores(ctx, k.due+":"+b, 0, 0).Result()
			require.NoError(t, err)
			require.NotEmpty(t, first, "%s: bucket %s is empty but has a head", when, b)
			require.Equal(t, first[0].Score, h.Score, "%s: the head of bucket %s", when, b)
		}
		for b := range dueBuckets {
			if !headed[strconv.Itoa(b)] {
				require.Zero(t, r.Client.Exists(ctx, k.bucket(b)).Val(), "%s: bucket %d has members and no head", when, b)
			}
		}
	}

	due := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	rs := make([]Reminder, 3000)
	for i := range rs {
		rs[i] = Reminder{ID: "h" + strconv.Itoa(i), Kind: "k", DueAt: due.Add(time.Duration(i) * time.Millisecond)}
	}
	require.NoError(t, s.ScheduleMany(ctx, rs[:1000])) // one transaction
	require.NoError(t, s.ScheduleMany(ctx, rs[1000:])) // 2,000: script calls
	check("scheduled")

	later := func(rs []Reminder) []Reminder {
		out := make([]Reminder, len(rs))
		for i, r := range rs {
			r.DueAt = r.DueAt.Add(2 * time.Hour)
			out[i] = r
		}
		return out
	}
	for _, r := range later(rs[:300]) {
		require.NoError(t, s.Schedule(ctx, r))
	}
	check("rescheduled later one at a time")
	require.NoError(t, s.ScheduleMany(ctx, later(rs[300:1000])))
	check("rescheduled later in a transaction")
	require.NoError(t, s.ScheduleMany(ctx, later(rs[1000:])))
	check("rescheduled later in script calls")
	for i := 0; i < len(rs); i += 2 {
		require.NoError(t, s.Cancel(ctx, rs[i].ID))
	}
	check("half cancelled")
	for i := 1; i < len(rs); i += 2 {
		require.NoError(t, s.Cancel(ctx, rs[i].ID))
	}
	check("all cancelled")
	require.Zero(t, r.Client.Exists(ctx, k.heads).Val(), "no head is left")
}
