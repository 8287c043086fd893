package reminders_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// Bad data beyond corrupt records (TestRedisCorruptRecords): keys of the
// wrong type, orphans in the sorted sets, junk on the wake channel. No
// panic, no stalled worker, errors that wrap the package's sentinels and
// name the cause, and the worker heals once the damage is gone.

// sentinel reports whether err wraps one of the package's errors.
func sentinel(err error) bool {
	for _, e := range []error{reminders.ErrUnavailable, reminders.ErrNotFound, reminders.ErrInvalid} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// TestRedisBadDataWrongTypes: another program wrote a string, list or hash
// where the scheduler keeps a sorted set, hash or counter. Every call
// either works or fails with ErrUnavailable naming the cause; the worker
// keeps running, and delivers again once the key is deleted.
func TestRedisBadDataWrongTypes(t *testing.T) {
	t.Parallel()
	// Per key: a command that leaves a value of another type there.
	wrong := map[string][]any{
		"due":   {"SET", "x"},
		"rec":   {"RPUSH", "x"},
		"lease": {"HSET", "a", "b"},
		"dead":  {"SET", "x"},
		"err":   {"SADD", "x"},
		"seq":   {"SET", "not a number"},
		"heads": {"SET", "x"},
		"kinds": {"RPUSH", "x"},
	}
	for suffix, cmd := range wrong {
		t.Run(suffix, func(t *testing.T) {
			t.Parallel()
			var got deliveries
			// One shard, so the test knows the keys (see keys.go).
			r, s := newRedis(t, reminders.WithShards(1), fastBackoff)
			ctx := bg(t)
			key := "{" + r.Prefix + ":0}:" + suffix
			require.NoError(t, r.Client.Do(ctx, append([]any{cmd[0], key}, cmd[1:]...)...).Err())
			runWorker(t, s, record(&got))

			check := func(op string, err error) {
				t.Helper()
				if err == nil {
					return
				}
				assert.True(t, sentinel(err), "%s: %v wraps none of the package's errors", op, err)
				if errors.Is(err, reminders.ErrUnavailable) {
					cause := "WRONGTYPE"
					if suffix == "seq" {
						cause = "not an integer" // INCR of a string that is not a number
					}
					assert.Contains(t, err.Error(), cause, "%s: the error names the cause", op)
				}
			}
			check("Schedule", s.Schedule(ctx, reminders.Reminder{ID: "during", Kind: "k", DueAt: time.Now()}))
			check("Cancel", s.Cancel(ctx, "during"))
			_, err := s.Get(ctx, "during")
			check("Get", err)
			_, err = s.Stats(ctx)
			check("Stats", err)
			_, err = s.Dead(ctx, 10)
			check("Dead", err)
			check("Requeue", s.Requeue(ctx, "during"))
			// Let the worker run into the damage for a moment.
			time.Sleep(300 * time.Millisecond)

			require.NoError(t, r.Client.Del(ctx, key).Err())
			require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "after", Kind: "k", DueAt: time.Now()}))
			require.Eventually(t, func() bool { return got.count("after") == 1 }, 15*time.Second, 10*time.Millisecond,
				"the worker delivers again once the key is repaired")
		})
	}
}

// TestRedisBadDataOrphans: members of the lease and dead sets with no
// record, an error text with no reminder, junk on the wake channel. The
// good reminder is delivered once; inspection works; the orphans are
// reported as not found or invalid, never as a panic.
func TestRedisBadDataOrphans(t *testing.T) {
	t.Parallel()
	var got deliveries
	r, s := newRedis(t, reminders.WithShards(1), reminders.WithLease(time.Second))
	ctx := bg(t)
	tag := "{" + r.Prefix + ":0}:"
	past := float64(time.Now().Add(-time.Minute).UnixMilli())
	require.NoError(t, r.Client.ZAdd(ctx, tag+"lease", redis.Z{Score: past, Member: "ghost-lease"}).Err())
	require.NoError(t, r.Client.ZAdd(ctx, tag+"dead", redis.Z{Score: past, Member: "ghost-dead"}).Err())
	require.NoError(t, r.Client.HSet(ctx, tag+"err", "ghost-err", "\x00\xff").Err())
	runWorker(t, s, record(&got))

	for _, msg := range []string{"", "junk", "0", "0:", "0:x", "-1:5", "7:5", "0:-99999999999999999999999", "0:1:2"} {
		require.NoError(t, r.Client.Publish(ctx, r.Prefix+":wake", msg).Err())
	}
	require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "good", Kind: "k", DueAt: time.Now().Add(200 * time.Millisecond)}))
	require.Eventually(t, func() bool { return got.count("good") == 1 }, 10*time.Second, 5*time.Millisecond)

	_, err := s.Stats(ctx)
	require.NoError(t, err)
	_, err = s.Dead(ctx, 10)
	assert.True(t, err == nil || sentinel(err), "Dead: %v", err)
	for _, id := range []string{"ghost-lease", "ghost-dead", "ghost-err"} {
		_, err := s.Get(ctx, id)
		assert.True(t, err == nil || sentinel(err), "Get(%s): %v", id, err)
		err = s.Requeue(ctx, id)
		assert.True(t, err == nil || sentinel(err), "Requeue(%s): %v", id, err)
		err = s.Cancel(ctx, id)
		assert.True(t, err == nil || sentinel(err), "Cancel(%s): %v", id, err)
	}
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, 1, got.len(), "only the good reminder reached the handler")
}

// TestRedisBadDataMissingRecord: a due reminder whose record was deleted
// behind the library's back is dead-lettered as corrupt, and scheduling
// its ID again replaces the dead entry and its error, as it does for any
// dead reminder: the new reminder is pending with no last error, is
// delivered once, and leaves nothing behind.
func TestRedisBadDataMissingRecord(t *testing.T) {
	t.Parallel()
	var got deliveries
	r, s := newRedis(t, reminders.WithShards(1))
	ctx := bg(t)
	require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "g", Kind: "k", DueAt: time.Now().Add(100 * time.Millisecond)}))
	require.NoError(t, r.Client.HDel(ctx, "{"+r.Prefix+":0}:rec", "g").Err())
	runWorker(t, s, record(&got))
	require.Eventually(t, func() bool {
		st, err := s.Stats(ctx)
		return err == nil && st.Dead == 1
	}, 5*time.Second, 5*time.Millisecond, "the reminder with no record is dead-lettered")

	require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "g", Kind: "k", DueAt: time.Now().Add(300 * time.Millisecond), Payload: []byte("v2")}))
	info, err := s.Get(ctx, "g")
	require.NoError(t, err)
	assert.Equal(t, reminders.StatePending, info.State)
	assert.Empty(t, info.LastError, "the corrupt reason went with the dead entry")
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, [3]int64{1, 0, 0}, [3]int64{st.Pending, st.InFlight, st.Dead})

	require.Eventually(t, func() bool { return got.count("g") == 1 }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		st, err := s.Stats(ctx)
		return err == nil && st.Pending == 0 && st.InFlight == 0 && st.Dead == 0
	}, 5*time.Second, 5*time.Millisecond, "nothing is left once the new reminder is acked")
	assert.Equal(t, 1, got.len())
}

// TestRedisBadDataOutcomeRefused: Redis refuses a finished handler's
// outcome for good (the due key became a string meanwhile, so the settle
// script fails before writing) while it still accepts lease renewals. The
// worker gives the outcome up once the lease runs out, logs it and frees
// the handler slot, instead of retrying forever; and Run returns once its
// context ends, well before a shutdown timeout of an hour.
func TestRedisBadDataOutcomeRefused(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	// One shard, so the test knows the keys (see keys.go).
	r, s := newRedis(t, reminders.WithShards(1), reminders.WithLease(time.Second),
		reminders.WithShutdownTimeout(time.Hour), reminders.WithLogger(slog.New(logs)))
	ctx := bg(t)
	started, finish := make(chan struct{}), make(chan struct{})
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- s.Run(runCtx, reminders.HandlerFunc(func(context.Context, reminders.Delivery) error {
			close(started)
			<-finish
			return nil
		}))
	}()
	require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "a", Kind: "k", DueAt: time.Now()}))
	<-started
	require.NoError(t, r.Client.Set(ctx, "{"+r.Prefix+":0}:due", "not a sorted set", 0).Err())
	close(finish)

	require.Eventually(t, func() bool {
		return len(logs.find(slog.LevelWarn, "outcome not recorded before the lease expired")) == 1
	}, 10*time.Second, 10*time.Millisecond, "the refused outcome is given up when the lease runs out")
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return: a handler slot is still held")
	}
	require.NoError(t, r.Client.Del(ctx, "{"+r.Prefix+":0}:due").Err())
}

// TestRedisBadDataRecordDueLater: a record due later than its score in the
// due set (written by something else: the scripts keep the two equal) is
// not claimed and held by a worker until its due time, which would take a
// handler slot for as long. It stays pending at its record's due time, the
// reminders behind it are delivered, and Get shows it. A due time
// Schedule would refuse (beyond ±(2^53-1) ms, or not even a double) makes
// the record corrupt: dead-lettered, and the shard goes on.
func TestRedisBadDataRecordDueLater(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, due string
		corrupt   bool
	}{
		{"in range", "9007199254740991", false},
		{"past 2^53", "9000000000000000000", true},
		{"not a double", strings.Repeat("9", 400), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, s := newRedis(t, reminders.WithShards(1), reminders.WithConcurrency(1))
			ctx := bg(t)
			tag := "{" + r.Prefix + ":0}:"
			require.NoError(t, r.Client.HSet(ctx, tag+"rec", "far", "7,1,"+tc.due+",k\n").Err())
			require.NoError(t, r.Client.ZAdd(ctx, tag+"due", redis.Z{Score: 0, Member: "far"}).Err())
			var got deliveries
			runWorker(t, s, record(&got))
			require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "good", Kind: "k", DueAt: time.Now()}))

			got.waitN(t, 1, 10*time.Second)
			assert.Equal(t, 1, got.count("good"))
			require.Eventually(t, func() bool {
				_, err := s.Get(ctx, "good")
				return errors.Is(err, reminders.ErrNotFound)
			}, 10*time.Second, 5*time.Millisecond, "good is acknowledged")
			if tc.corrupt {
				require.Eventually(t, func() bool {
					dead, err := s.Dead(ctx, 10)
					return err == nil && len(dead) == 1 && dead[0].ID == "far" && dead[0].LastError == "corrupt"
				}, 10*time.Second, 10*time.Millisecond, "dead-lettered as corrupt")
				return
			}
			info, err := s.Get(ctx, "far")
			require.NoError(t, err)
			assert.Equal(t, reminders.StatePending, info.State)
			score, err := r.Client.ZScore(ctx, tag+"due:"+strconv.Itoa(reminders.DueBucket("far")), "far").Result()
			require.NoError(t, err)
			assert.Equal(t, float64(1<<53-1), score, "indexed again, in its bucket, at its record's due time")
			assert.Zero(t, r.Client.Exists(ctx, tag+"due").Val(), "the old due key is drained")
			st, err := s.Stats(ctx)
			require.NoError(t, err)
			assert.Equal(t, int64(1), st.Pending)
			assert.Zero(t, st.InFlight)
		})
	}
}
