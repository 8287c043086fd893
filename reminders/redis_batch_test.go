package reminders_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// batchSizes are ScheduleMany batches on each of its two paths: one
// MULTI/EXEC transaction (up to 1,024 reminders and 1 MiB of payload), and
// script calls of 128 reminders (more).
var batchSizes = []int{2, 1025}

// TestRedisScheduleManyReplaces: a batch that holds the ID of a reminder
// in flight and of a dead one replaces both, on either path, as Schedule
// does: the lease and the dead entry with its error go, both are pending
// again, and the running attempt's ack, when it comes, is ignored.
func TestRedisScheduleManyReplaces(t *testing.T) {
	for _, n := range batchSizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			r, s := newRedis(t, reminders.WithShards(1))
			ctx := bg(t)
			release := make(chan struct{})
			started := make(chan struct{}, 1)
			acked := make(chan struct{}, 1)
			runWorker(t, s, reminders.HandlerFunc(func(ctx context.Context, d reminders.Delivery) error {
				if d.ID == "busy" {
					started <- struct{}{}
					<-release
					acked <- struct{}{}
				}
				return nil
			}))
			require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "busy", Kind: "k", DueAt: time.Now()}))
			<-started
			// A dead reminder: its record deleted behind the library's back
			// before it is due (or the worker could deliver it first).
			require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "gone", Kind: "k", DueAt: time.Now().Add(300 * time.Millisecond)}))
			require.NoError(t, r.Client.HDel(ctx, "{"+r.Prefix+":0}:rec", "gone").Err())
			require.Eventually(t, func() bool {
				st, err := s.Stats(ctx)
				return err == nil && st.Dead == 1 && st.InFlight == 1
			}, 5*time.Second, 5*time.Millisecond, "one in flight, one dead")

			later := time.Now().Add(time.Hour)
			rs := make([]reminders.Reminder, n)
			for i := range rs {
				rs[i] = reminders.Reminder{ID: fmt.Sprint("f", i), Kind: "k", DueAt: later}
			}
			rs[0].ID, rs[n-1].ID = "busy", "gone"
			require.NoError(t, s.ScheduleMany(ctx, rs))
			want := [3]int64{int64(n), 0, 0}
			st, err := s.Stats(ctx)
			require.NoError(t, err)
			assert.Equal(t, want, [3]int64{st.Pending, st.InFlight, st.Dead}, "pending, in flight, dead")
			info, err := s.Get(ctx, "gone")
			require.NoError(t, err)
			assert.Equal(t, reminders.StatePending, info.State)
			assert.Empty(t, info.LastError, "the dead entry's error went with it")

			close(release)
			<-acked
			time.Sleep(100 * time.Millisecond) // the ack reaches Redis
			st, err = s.Stats(ctx)
			require.NoError(t, err)
			assert.Equal(t, want, [3]int64{st.Pending, st.InFlight, st.Dead}, "the replaced attempt's ack is ignored")
			info, err = s.Get(ctx, "busy")
			require.NoError(t, err)
			assert.Equal(t, reminders.StatePending, info.State)
			assert.Equal(t, 1, info.Attempt)
		})
	}
}

// TestRedisScheduleManyLaterWins: an ID twice in one batch stores the later
// reminder, record and due time alike, on either path.
func TestRedisScheduleManyLaterWins(t *testing.T) {
	for _, n := range batchSizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			_, s := newRedis(t)
			ctx := bg(t)
			first, second := time.Now().Add(time.Hour).Truncate(time.Millisecond), time.Now().Add(2*time.Hour).Truncate(time.Millisecond)
			rs := make([]reminders.Reminder, n)
			for i := range rs {
				rs[i] = reminders.Reminder{ID: fmt.Sprint("f", i), Kind: "k", DueAt: first}
			}
			rs[0] = reminders.Reminder{ID: "twice", Kind: "first", DueAt: first, Payload: []byte("1")}
			rs[n-1] = reminders.Reminder{ID: "twice", Kind: "second", DueAt: second, Payload: []byte("2")}
			require.NoError(t, s.ScheduleMany(ctx, rs))
			info, err := s.Get(ctx, "twice")
			require.NoError(t, err)
			assert.Equal(t, "second", info.Kind)
			assert.Equal(t, []byte("2"), info.Payload)
			assert.True(t, second.Equal(info.DueAt), "due %v, want %v", info.DueAt, second)
			assert.True(t, second.Equal(info.At), "next due by the due set %v, want %v", info.At, second)
			st, err := s.Stats(ctx)
			require.NoError(t, err)
			assert.Equal(t, int64(n-1), st.Pending)
		})
	}
}
