package reminders_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// scriptReplies is a go-redis hook that keeps, for every script call
// (EVAL, EVALSHA), how many reminders its reply lists (4 values each, as
// the dead script returns them) and how many bytes its strings hold.
type scriptReplies struct {
	mu      sync.Mutex
	entries []int
	bytes   []int
}

func (h *scriptReplies) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *scriptReplies) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.note(cmd)
		return err
	}
}

func (h *scriptReplies) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			h.note(cmd)
		}
		return err
	}
}

func (h *scriptReplies) note(cmd redis.Cmder) {
	if !strings.HasPrefix(strings.ToLower(cmd.Name()), "eval") {
		return
	}
	c, ok := cmd.(*redis.Cmd)
	if !ok {
		return
	}
	vals, _ := c.Val().([]any)
	n := 0
	for _, v := range vals {
		if s, ok := v.(string); ok {
			n += len(s)
		}
	}
	h.mu.Lock()
	h.entries = append(h.entries, len(vals)/4)
	h.bytes = append(h.bytes, n)
	h.mu.Unlock()
}

// TestRedisDeadBoundedCalls: Dead(10000) over 250 dead reminders of 8 KiB
// each (2 MB in all) returns them all, oldest first and whole, yet no
// script call reads more than 100 reminders or much more than 1 MiB: a
// large dead set with large payloads never makes one call long.
func TestRedisDeadBoundedCalls(t *testing.T) {
	t.Parallel()
	const n, size = 250, 8 << 10
	r, s := newRedis(t, reminders.WithMaxRetries(0))
	stop := runWorker(t, s, reminders.HandlerFunc(func(context.Context, reminders.Delivery) error {
		return errors.New("fails for good")
	}))
	rs := make([]reminders.Reminder, n)
	for i := range rs {
		payload := []byte(strings.Repeat(fmt.Sprintf("%03d", i%1000), size/3+1)[:size])
		rs[i] = reminders.Reminder{ID: fmt.Sprint("d", i), Kind: "k", DueAt: time.Now(), Payload: payload}
	}
	require.NoError(t, s.ScheduleMany(bg(t), rs))
	require.Eventually(t, func() bool {
		st, err := s.Stats(bg(t))
		return err == nil && st.Dead == n
	}, 20*time.Second, 20*time.Millisecond)
	stop() // only Dead's script calls from here on

	hook := &scriptReplies{}
	c := r.NewClient(t)
	c.AddHook(hook)
	list, err := newOn(t, c, r.Prefix).Dead(bg(t), 10000)
	require.NoError(t, err)

	require.Len(t, list, n)
	byID := make(map[string]reminders.Reminder, n)
	for _, x := range rs {
		byID[x.ID] = x
	}
	for i, d := range list {
		want, ok := byID[d.ID]
		require.True(t, ok, "unknown %q", d.ID)
		assert.Equal(t, want.Payload, d.Payload, d.ID)
		assert.Equal(t, "fails for good", d.LastError, d.ID)
		assert.Equal(t, 1, d.Attempts, d.ID)
		delete(byID, d.ID)
		if i > 0 {
			assert.False(t, d.DiedAt.Before(list[i-1].DiedAt), "oldest death first")
		}
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	require.NotEmpty(t, hook.entries)
	for i := range hook.entries {
		assert.LessOrEqual(t, hook.entries[i], 100, "reminders in one script call")
		assert.LessOrEqual(t, hook.bytes[i], 1<<20+2*size, "bytes in one script call")
	}

	// A limit keeps the oldest deaths over all shards.
	oldest, err := s.Dead(bg(t), 7)
	require.NoError(t, err)
	require.Len(t, oldest, 7)
	for i, d := range oldest {
		assert.Equal(t, list[i].DiedAt, d.DiedAt, "the %dth oldest", i)
	}
}

// TestRedisStatsCountsExpiredLeases: Stats.InFlight counts a claim whose
// lease has expired but that no worker has taken back yet (its worker
// died), as its doc says; the next claim takes it back to pending.
func TestRedisStatsCountsExpiredLeases(t *testing.T) {
	t.Parallel()
	r, s := newRedis(t, reminders.WithShards(1)) // one shard: the test knows the keys
	ctx := bg(t)
	due := time.Now().Add(time.Hour)
	require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "orphan", Kind: "k", DueAt: due}))
	// What a worker that claimed it and died leaves: the reminder in the
	// lease set, its deadline passed, and its full record (scripts/lib.lua)
	// with the claim's version.
	tag := "{" + r.Prefix + ":0}:"
	require.NoError(t, r.Client.ZRem(ctx, tag+"due:"+strconv.Itoa(reminders.DueBucket("orphan")), "orphan").Err())
	require.NoError(t, r.Client.HSet(ctx, tag+"rec", "orphan", fmt.Sprintf("7,1,%d,k\n", due.UnixMilli())).Err())
	past := float64(time.Now().Add(-time.Minute).UnixMilli())
	require.NoError(t, r.Client.ZAdd(ctx, tag+"lease", redis.Z{Score: past, Member: "orphan"}).Err())

	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, [3]int64{0, 1, 0}, [3]int64{st.Pending, st.InFlight, st.Dead}, "expired, not yet taken back")

	var got deliveries
	runWorker(t, s, record(&got))
	require.Eventually(t, func() bool {
		info, err := s.Get(ctx, "orphan")
		return err == nil && info.State == reminders.StatePending && info.Attempt == 2
	}, 10*time.Second, 10*time.Millisecond, "taken back, as attempt 2, due in an hour")
	assert.Zero(t, got.len())
}
