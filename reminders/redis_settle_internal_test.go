package reminders

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
)

// oneShard is a Redis scheduler with one shard, so that a test knows its
// keys (s.keys[0]), and a context that ends with the test or after a
// minute.
func oneShard(t *testing.T) (*redistest.Redis, *RedisScheduler, context.Context) {
	t.Helper()
	r := redistest.New(t)
	s, err := NewRedisScheduler(r.Client, WithKeyPrefix(r.Prefix), WithShards(1))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return r, s, ctx
}

// TestSettleSameIDTwice: one settle call may carry two outcomes for one ID
// (an old claim's and a newer one's, or the same claim's twice). The
// script reads every lease and record up front, yet the first outcome that
// applies makes the others stale, as if they ran one by one.
func TestSettleSameIDTwice(t *testing.T) {
	r, s, ctx := oneShard(t)
	k := s.keys[0]

	schedule := func(id string) {
		require.NoError(t, s.Schedule(ctx, Reminder{ID: id, Kind: "k", DueAt: time.Now().Add(-time.Second)}))
	}
	// claim takes every due reminder and returns each one's version.
	calls := 0
	claim := func() map[string]string {
		now := time.Now().UnixMilli()
		calls++ // each call its own token
		res, err := scriptClaim.Run(ctx, r.Client, k.all(), now, now+60_000, 100, claimBytes, 4, expiredBatch, strconv.Itoa(calls), "").Slice()
		require.NoError(t, err)
		got := map[string]string{}
		claimed := res[0].([]any)
		for i := 0; i < len(claimed); i += 2 {
			rec, err := parseRecord(claimed[i+1].(string))
			require.NoError(t, err)
			got[claimed[i].(string)] = rec.version
		}
		return got
	}
	settle := func(outcomes ...[]any) []int64 {
		args := []any{time.Now().UnixMilli(), s.wake, 0}
		for _, o := range outcomes {
			args = append(args, o...)
		}
		res, err := scriptSettle.Run(ctx, r.Client, k.all(), args...).Int64Slice()
		require.NoError(t, err)
		return res
	}
	// record reads a reminder's record as Get does: a pending one in the
	// full form, with its due time in the index.
	record := func(id string) (record, bool) {
		res, err := scriptGet.Run(ctx, r.Client, k.all(), id).Slice()
		require.NoError(t, err)
		v, ok := res[0].(string)
		if !ok {
			return record{}, false
		}
		rec, err := parseRecord(v)
		require.NoError(t, err)
		return rec, true
	}
	later := time.Now().Add(time.Hour).UnixMilli()

	schedule("acked")
	schedule("retried")
	schedule("stale")
	v := claim()
	require.Len(t, v, 3)
	// "stale" is rescheduled and claimed again: its first claim's version
	// is old.
	old := v["stale"]
	schedule("stale")
	v2 := claim()
	require.Len(t, v2, 1)
	require.NotEqual(t, old, v2["stale"])

	res := settle(
		[]any{opAck, "acked", v["acked"], 0, ""},
		[]any{opRetry, "acked", v["acked"], later, "boom"},
		[]any{opRetry, "retried", v["retried"], later, "boom"},
		[]any{opAck, "retried", v["retried"], 0, ""},
		[]any{opAck, "stale", old, 0, ""},
		[]any{opRetry, "stale", v2["stale"], later, "boom"},
	)
	assert.Equal(t, []int64{1, 0, 1, 0, 0, 1}, res)

	_, ok := record("acked")
	assert.False(t, ok, "the ack deleted it; the retry after it did not bring it back")
	for _, id := range []string{"retried", "stale"} {
		rec, ok := record(id)
		require.True(t, ok, id)
		assert.Equal(t, 2, rec.attempt, "%s: retried once, the ack after it ignored", id)
		due, err := r.Client.ZScore(ctx, k.bucket(dueBucket(id)), id).Result()
		require.NoError(t, err, id)
		assert.Equal(t, float64(later), due, id)
		assert.Equal(t, "boom", r.Client.HGet(ctx, k.err, id).Val(), id)
	}
	assert.Zero(t, r.Client.ZCard(ctx, k.lease).Val(), "no lease is left")
}
