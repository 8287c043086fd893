package reminders

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRedisHeadsStayExact: each due bucket's head is its earliest due time
// (scripts/lib.lua) after every change that can move that time later:
// rescheduling later one at a time and in ScheduleMany's script calls, and
// cancelling. Heads left too low piled up once, and a due reminder waited
// behind them, a claim call each. A ScheduleMany transaction, which cannot
// look, may leave heads too low, never too high, and never a bucket with
// members but no head.
func TestRedisHeadsStayExact(t *testing.T) {
	r, s, ctx := oneShard(t)
	k := s.keys[0]

	check := func(when string, exact bool) {
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
			if exact {
				require.Equal(t, first[0].Score, h.Score, "%s: the head of bucket %s", when, b)
			} else {
				require.LessOrEqual(t, h.Score, first[0].Score, "%s: the head of bucket %s", when, b)
			}
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
	check("scheduled", true)

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
	check("rescheduled later one at a time", true)
	require.NoError(t, s.ScheduleMany(ctx, later(rs[1000:])))
	check("rescheduled later in script calls", true)
	for i := 0; i < len(rs); i += 2 {
		require.NoError(t, s.Cancel(ctx, rs[i].ID))
	}
	check("half cancelled", true)
	var odd []Reminder
	for i := 301; i < 1000; i += 2 {
		odd = append(odd, rs[i])
	}
	require.NoError(t, s.ScheduleMany(ctx, later(odd)))
	check("rescheduled later in a transaction", false)
	for i := 1; i < len(rs); i += 2 {
		require.NoError(t, s.Cancel(ctx, rs[i].ID))
	}
	check("all cancelled", true)
	require.Zero(t, r.Client.Exists(ctx, k.heads).Val(), "no head is left")
}

// TestRedisClaimPassesLowHeads: ScheduleMany transactions moved the
// earliest reminder of every bucket but one an hour later, leaving their
// heads too low and due; a reminder due now in the last bucket, behind
// all of them, is claimed within four claim calls (each visits up to 256
// heads, of 1021), and the visited heads are set right.
func TestRedisClaimPassesLowHeads(t *testing.T) {
	r, s, ctx := oneShard(t)
	k := s.keys[0]

	byBucket := map[int]string{}
	for i := 0; len(byBucket) < dueBuckets; i++ {
		id := "low-" + strconv.Itoa(i)
		if _, ok := byBucket[dueBucket(id)]; !ok {
			byBucket[dueBucket(id)] = id
		}
	}
	// Heads of one score are in the order of their names: "999" comes
	// last, behind all the low ones.
	target := byBucket[999]
	past := time.Now().Add(-time.Minute)
	var rs []Reminder
	for _, id := range byBucket {
		if id != target {
			rs = append(rs, Reminder{ID: id, Kind: "k", DueAt: past})
		}
	}
	require.NoError(t, s.ScheduleMany(ctx, rs[:len(rs)/2])) // transactions, up to 1,024 each
	require.NoError(t, s.ScheduleMany(ctx, rs[len(rs)/2:]))
	for i := range rs {
		rs[i].DueAt = past.Add(time.Hour)
	}
	require.NoError(t, s.ScheduleMany(ctx, rs[:len(rs)/2]))
	require.NoError(t, s.ScheduleMany(ctx, rs[len(rs)/2:]))
	require.NoError(t, s.Schedule(ctx, Reminder{ID: target, Kind: "k", DueAt: past}))

	calls := 0
	for claimed := false; !claimed; {
		calls++
		require.LessOrEqual(t, calls, 4, "claim calls before the due reminder behind low heads")
		now := time.Now().UnixMilli()
		res, err := scriptClaim.Run(ctx, r.Client, k.all(), now, now+60_000, 32, claimBytes, 4, expiredBatch, strconv.Itoa(calls), "").Slice()
		require.NoError(t, err)
		got := res[0].([]any)
		for i := 0; i < len(got); i += 2 {
			require.Equal(t, target, got[i], "only the due reminder is claimed")
			claimed = true
		}
	}
	heads, err := r.Client.ZRangeWithScores(ctx, k.heads, 0, 0).Result()
	require.NoError(t, err)
	require.NotEmpty(t, heads)
	require.InDelta(t, float64(past.Add(time.Hour).UnixMilli()), heads[0].Score, 1, "the earliest head is right again")
}
