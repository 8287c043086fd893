package reminders_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// TestRedisOldLayoutIsServed: reminders stored before the due index was
// split into buckets (keys.go) sit in the shard's due key, with records in
// the full form (scripts/lib.lua) and a version made by Schedule. They are
// counted, shown, cancelled, replaced and delivered as before, and the old
// due key is drained empty, never written.
func TestRedisOldLayoutIsServed(t *testing.T) {
	t.Parallel()
	r, s := newRedis(t, reminders.WithShards(1)) // one shard: the test knows the keys
	ctx := bg(t)
	tag := "{" + r.Prefix + ":0}:"
	due := time.Now().Add(300 * time.Millisecond).Truncate(time.Millisecond)
	for _, id := range []string{"old-a", "old-b", "old-c"} {
		require.NoError(t, r.Client.HSet(ctx, tag+"rec", id,
			fmt.Sprintf("0%d,1,%d,appointments.send_reminder\n{\"id\":%q}", 42, due.UnixMilli(), id)).Err())
		require.NoError(t, r.Client.ZAdd(ctx, tag+"due", redis.Z{Score: float64(due.UnixMilli()), Member: id}).Err())
	}

	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(3), st.Pending)
	info, err := s.Get(ctx, "old-a")
	require.NoError(t, err)
	assert.Equal(t, reminders.StatePending, info.State)
	assert.Equal(t, "appointments.send_reminder", info.Kind)
	assert.Equal(t, `{"id":"old-a"}`, string(info.Payload))
	assert.True(t, due.Equal(info.DueAt), "DueAt %v, want %v", info.DueAt, due)

	require.NoError(t, s.Cancel(ctx, "old-b"))
	require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "old-c", Kind: "k", DueAt: due, Payload: []byte("new")}))
	assert.Equal(t, int64(1), r.Client.ZCard(ctx, tag+"due").Val(), "cancelled and replaced reminders leave the old due key")

	var got deliveries
	runWorker(t, s, record(&got))
	got.waitN(t, 2, 10*time.Second)
	ds, _ := got.all()
	byID := map[string]reminders.Delivery{}
	for _, d := range ds {
		byID[d.ID] = d
	}
	require.Contains(t, byID, "old-a")
	assert.Equal(t, 1, byID["old-a"].Attempt)
	assert.Equal(t, "appointments.send_reminder", byID["old-a"].Kind)
	assert.True(t, due.Equal(byID["old-a"].DueAt))
	require.Contains(t, byID, "old-c")
	assert.Equal(t, "new", string(byID["old-c"].Payload))
	assert.NotContains(t, byID, "old-b")
	require.Eventually(t, func() bool {
		st, err := s.Stats(ctx)
		return err == nil && st.Pending == 0 && st.InFlight == 0
	}, 10*time.Second, 10*time.Millisecond)
	assert.Zero(t, r.Client.Exists(ctx, tag+"due").Val(), "the old due key is drained")
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, 2, got.len(), "each delivered once")
}
