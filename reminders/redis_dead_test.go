package reminders_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// deadLetters schedules ids with a handler that always fails and no
// retries, and waits until all of them are dead.
func deadLetters(t *testing.T, s *reminders.RedisScheduler, ids ...string) {
	t.Helper()
	stop := runWorker(t, s, reminders.HandlerFunc(func(context.Context, reminders.Delivery) error {
		return errors.New("fails for good")
	}))
	defer stop()
	before, err := s.Stats(bg(t))
	require.NoError(t, err)
	rs := make([]reminders.Reminder, len(ids))
	for i, id := range ids {
		rs[i] = reminders.Reminder{ID: id, Kind: "k", DueAt: time.Now(), Payload: []byte("p")}
	}
	require.NoError(t, s.ScheduleMany(bg(t), rs))
	require.Eventually(t, func() bool {
		st, err := s.Stats(bg(t))
		return err == nil && st.Dead == before.Dead+int64(len(ids))
	}, 10*time.Second, 10*time.Millisecond)
}

// TestRedisDeleteDead: a dead letter is deleted for good (no dead entry,
// no record, no last error left), and its ID can be scheduled again as a
// new reminder; what is not dead is refused with ErrNotFound and left as
// it was.
func TestRedisDeleteDead(t *testing.T) {
	t.Parallel()
	r, s := newRedis(t, reminders.WithMaxRetries(0))
	ctx := bg(t)
	deadLetters(t, s, "gone", "kept")
	require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "pending", Kind: "k", DueAt: time.Now().Add(time.Hour)}))

	require.NoError(t, s.DeleteDead(ctx, "gone"))
	_, err := s.Get(ctx, "gone")
	assert.ErrorIs(t, err, reminders.ErrNotFound)
	assert.ErrorIs(t, s.DeleteDead(ctx, "gone"), reminders.ErrNotFound, "twice")
	assert.ErrorIs(t, s.DeleteDead(ctx, "pending"), reminders.ErrNotFound, "pending is not dead")
	assert.ErrorIs(t, s.DeleteDead(ctx, "never"), reminders.ErrNotFound)
	assert.ErrorIs(t, s.DeleteDead(ctx, ""), reminders.ErrInvalid)

	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, [3]int64{1, 0, 1}, [3]int64{st.Pending, st.InFlight, st.Dead})
	list, err := s.Dead(ctx, 10)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "kept", list[0].ID)
	keys, err := r.Keys(ctx)
	require.NoError(t, err)
	for _, k := range keys {
		for _, field := range []string{"rec", "err"} {
			if strings.HasSuffix(k, ":"+field) {
				ok, err := r.Client.HExists(ctx, k, "gone").Result()
				require.NoError(t, err)
				assert.False(t, ok, "%s still holds the deleted reminder", k)
			}
		}
	}

	// Scheduled again, it is a new reminder: attempt 1, no last error.
	var got deliveries
	runWorker(t, s, record(&got))
	require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "gone", Kind: "k", DueAt: time.Now()}))
	got.waitN(t, 1, 5*time.Second)
	ds, _ := got.all()
	assert.Equal(t, 1, ds[0].Attempt)
}

// TestRedisPurgeDead: PurgeDead deletes the dead letters that died before
// its time, over every shard and past one script call's batch (500: two
// shards of about 600 each), and leaves the later ones.
func TestRedisPurgeDead(t *testing.T) {
	t.Parallel()
	_, s := newRedis(t, reminders.WithMaxRetries(0), reminders.WithShards(2))
	ctx := bg(t)
	old := make([]string, 1200)
	for i := range old {
		old[i] = fmt.Sprint("old-", i)
	}
	deadLetters(t, s, old...)
	time.Sleep(20 * time.Millisecond) // the cut falls between two deaths
	cut := time.Now()
	time.Sleep(20 * time.Millisecond)
	deadLetters(t, s, "new-1", "new-2")

	n, err := s.PurgeDead(ctx, cut)
	require.NoError(t, err)
	assert.Equal(t, len(old), n)
	list, err := s.Dead(ctx, 10000)
	require.NoError(t, err)
	var ids []string
	for _, d := range list {
		ids = append(ids, d.ID)
	}
	assert.ElementsMatch(t, []string{"new-1", "new-2"}, ids)

	n, err = s.PurgeDead(ctx, cut)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left before the cut")
	n, err = s.PurgeDead(ctx, time.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, 2, n)
}

// TestRedisPurgeDeadFarCut: a cut beyond the range of Unix ms (past year
// 292 million, where UnixMilli wraps to the past) still deletes every dead
// reminder, and one as far in the past deletes none.
func TestRedisPurgeDeadFarCut(t *testing.T) {
	t.Parallel()
	_, s := newRedis(t, reminders.WithMaxRetries(0))
	ctx := bg(t)
	deadLetters(t, s, "a", "b")
	farPast := time.Unix(-1<<62, 0)
	n, err := s.PurgeDead(ctx, farPast)
	require.NoError(t, err)
	assert.Zero(t, n)
	farFuture := time.Unix(1<<62, 0)
	n, err = s.PurgeDead(ctx, farFuture)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
}
