package reminders_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// TestRedisScheduleManyLaterWinsAfterScriptFlush: a ScheduleMany too large
// for one transaction goes as a pipeline of script calls. With the script
// cache empty (a restarted Redis, SCRIPT FLUSH), the first call is refused
// with NOSCRIPT; Redis reads a large pipeline in parts, and another
// client's EVAL can load the script before the rest is read, which then
// runs. The later of two reminders with one ID must still win: the
// refused call is not simply run again after the later ones.
func TestRedisScheduleManyLaterWinsAfterScriptFlush(t *testing.T) {
	t.Parallel()
	c, split := splitAfterFlush(t, nil)
	ctx := context.Background()
	s, err := reminders.NewRedisScheduler(c, reminders.WithKeyPrefix("flushed"))
	require.NoError(t, err)

	// 2,000 reminders: more than one transaction takes, so script calls
	// of at most 128 in one pipeline; "dup" is in the first and the last.
	rs := make([]reminders.Reminder, 2000)
	due := time.Now().Add(time.Hour)
	for i := range rs {
		rs[i] = reminders.Reminder{ID: fmt.Sprintf("r%d", i), Kind: "k", DueAt: due}
	}
	rs[0].ID, rs[0].Payload = "dup", []byte("first")
	rs[len(rs)-1].ID, rs[len(rs)-1].Payload = "dup", []byte("later")
	require.NoError(t, s.ScheduleMany(ctx, rs))
	require.True(t, split.Load(), "the pipeline was split")

	info, err := s.Get(ctx, "dup")
	require.NoError(t, err)
	assert.Equal(t, "later", string(info.Payload), "the later reminder wins")
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(len(rs)-1), st.Pending, "every other reminder is stored")
}

// TestRedisScheduleManyRerunFails: as above, but the second pipeline, which
// runs the refused call and those after it again, is lost. ScheduleMany
// returns ErrUnavailable, and the observer hears of exactly the reminders
// stored: those whose first run went through, not the refused ones.
func TestRedisScheduleManyRerunFails(t *testing.T) {
	t.Parallel()
	// The pipeline after the split one is lost: nothing of it is sent.
	c, _ := splitAfterFlush(t, errors.New("connection lost"))
	ctx := context.Background()
	var observed sync.Map
	s, err := reminders.NewRedisScheduler(c, reminders.WithKeyPrefix("flushed"),
		reminders.WithObserver(reminders.ObserverFunc(func(e reminders.Event) { observed.Store(e.ID, true) })))
	require.NoError(t, err)

	rs := make([]reminders.Reminder, 2000)
	for i := range rs {
		rs[i] = reminders.Reminder{ID: fmt.Sprintf("r%d", i), Kind: "k", DueAt: time.Now().Add(time.Hour)}
	}
	err = s.ScheduleMany(ctx, rs)
	require.ErrorIs(t, err, reminders.ErrUnavailable)
	assert.Contains(t, err.Error(), "connection lost")

	var stored, heard int
	for _, r := range rs {
		_, gerr := s.Get(ctx, r.ID)
		_, ok := observed.Load(r.ID)
		assert.Equal(t, gerr == nil, ok, "%s: stored and reported agree", r.ID)
		if gerr == nil {
			stored++
		}
		if ok {
			heard++
		}
	}
	assert.Positive(t, stored, "the calls after the refused one ran")
	assert.Less(t, stored, len(rs), "the refused call did not")
	assert.Equal(t, stored, heard)
}

// splitAfterFlush returns a client of a miniredis of its own whose script
// cache is empty. Its first pipeline of EVALSHAs is split after its first
// command, as a server's read of a large pipeline would, and another
// instance schedules (EVALSHA, NOSCRIPT, EVAL: the script is loaded) in
// between;
// split reports that it was. When lost is not nil, the first pipeline of
// EVALs (the re-run) fails with it, and none of its commands is sent.
// Its own miniredis: SCRIPT FLUSH on a shared Redis would add round trips
// to the tests that count them.
func splitAfterFlush(t *testing.T, lost error) (c *redis.Client, split *atomic.Bool) {
	t.Helper()
	mr := miniredis.RunT(t)
	other := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = other.Close() })
	c = redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	split = &atomic.Bool{}
	var rerun atomic.Bool
	c.AddHook(pipelineHook(func(ctx context.Context, cmds []redis.Cmder, next redis.ProcessPipelineHook) error {
		switch {
		case cmds[0].Name() == "evalsha" && len(cmds) > 1 && split.CompareAndSwap(false, true):
			_ = next(ctx, cmds[:1])
			o, err := reminders.NewRedisScheduler(other, reminders.WithKeyPrefix("other"))
			require.NoError(t, err)
			require.NoError(t, o.Schedule(ctx, reminders.Reminder{ID: "o", Kind: "k", DueAt: time.Now().Add(time.Hour)}))
			return next(ctx, cmds[1:])
		case cmds[0].Name() == "eval" && lost != nil && rerun.CompareAndSwap(false, true):
			return lost
		}
		return next(ctx, cmds)
	}))
	require.NoError(t, other.ScriptFlush(context.Background()).Err())
	return c, split
}
