package reminders_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/reminders"
)

// lostReply is a go-redis hook whose connections lose the reply to the
// first command written that holds marker (or, with inReply, the first
// reply read that holds it): the command reaches Redis and runs, then the
// connection drops before the reply is read (after a pause, so that
// others act meanwhile). go-redis sends the command again on a new
// connection, as it does after any dropped connection.
type lostReply struct {
	marker  []byte
	inReply bool
	armed   atomic.Bool
}

type lossyConn struct {
	net.Conn
	l    *lostReply
	drop atomic.Bool
}

func (c *lossyConn) Write(b []byte) (int, error) {
	if !c.l.inReply && bytes.Contains(b, c.l.marker) && c.l.armed.CompareAndSwap(true, false) {
		c.drop.Store(true)
	}
	return c.Conn.Write(b)
}

func (c *lossyConn) Read(b []byte) (int, error) {
	if !c.drop.Load() {
		n, err := c.Conn.Read(b)
		if !(c.l.inReply && bytes.Contains(b[:n], c.l.marker) && c.l.armed.CompareAndSwap(true, false)) {
			return n, err
		}
	}
	time.Sleep(400 * time.Millisecond)
	_ = c.Conn.Close()
	return 0, io.EOF
}

// lossyClient is a client of r whose connections lose a reply as l says.
// A Redis Cluster client dials through its node clients, which do not
// take the cluster client's hooks: the test is skipped there.
func lossyClient(t *testing.T, r *redistest.Redis, l *lostReply) redis.UniversalClient {
	if r.Mode == redistest.Cluster {
		t.Skip("a cluster client's dial hooks do not reach its node clients")
	}
	c := r.NewClient(t)
	c.AddHook(l)
	return c
}

func (l *lostReply) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		cn, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &lossyConn{Conn: cn, l: l}, nil
	}
}

func (l *lostReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (l *lostReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestRedisLostScheduleReplyNewestClaimWins: a Schedule whose reply was
// lost is sent twice, and a worker claims the reminder between the two
// runs. The second run replaces the claimed reminder, as a reschedule does
// (invariant 4): the first claim no longer counts, so its handler's
// context is cancelled and its outcome ignored, and the reminder is
// claimed again and settled by the newest claim. Versions come from the
// claim script's counter, never from the schedule's arguments, so the
// resent schedule cannot make the first claim's version current again
// (it once did: the stale claim's ack was applied and the newest one's
// handler cancelled).
func TestRedisLostScheduleReplyNewestClaimWins(t *testing.T) {
	t.Parallel()
	r, _ := newRedis(t, reminders.WithShards(1))
	lost := &lostReply{marker: []byte("resent")}
	lost.armed.Store(true)
	s := newOn(t, lossyClient(t, r, lost), r.Prefix, reminders.WithShards(1))

	type run struct {
		started   time.Time
		cancelled bool
	}
	var mu sync.Mutex
	var runs []run
	w := newOn(t, r.NewClient(t), r.Prefix, reminders.WithShards(1), reminders.WithLease(3*time.Second))
	runWorker(t, w, reminders.HandlerFunc(func(ctx context.Context, d reminders.Delivery) error {
		started := time.Now()
		time.Sleep(2500 * time.Millisecond) // past a lease renewal (every second)
		mu.Lock()
		runs = append(runs, run{started, ctx.Err() != nil})
		mu.Unlock()
		return nil
	}))

	ctx := bg(t)
	require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "resent", Kind: "k", DueAt: time.Now()}))
	require.Eventually(t, func() bool {
		_, err := w.Get(ctx, "resent")
		return err != nil
	}, 15*time.Second, 20*time.Millisecond, "the reminder is settled")
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, runs)
	slices.SortFunc(runs, func(a, b run) int { return a.started.Compare(b.started) })
	for i, x := range runs[:len(runs)-1] {
		assert.True(t, x.cancelled, "run %d of %d, replaced by the resent Schedule, was not cancelled", i+1, len(runs))
	}
	assert.False(t, runs[len(runs)-1].cancelled, "the newest claim's run was cancelled")
	assert.False(t, lost.armed.Load(), "the reply was dropped")
}

// TestRedisLostClaimReplyDelivers: a claim whose reply was lost is sent
// again by go-redis. The second run returns what the first claimed (the
// claim's memo, claim.lua), so the reminder is delivered at once, as
// attempt 1, instead of sitting leased until its lease expires and
// spending an attempt: with no retries it would die undelivered.
func TestRedisLostClaimReplyDelivers(t *testing.T) {
	t.Parallel()
	r, s := newRedis(t, reminders.WithShards(1))
	lost := &lostReply{marker: []byte("lostclaim"), inReply: true}
	w := newOn(t, lossyClient(t, r, lost), r.Prefix, reminders.WithShards(1), reminders.WithLease(20*time.Second), reminders.WithMaxRetries(0))
	var got deliveries
	runWorker(t, w, record(&got))

	ctx := bg(t)
	lost.armed.Store(true)
	require.NoError(t, s.Schedule(ctx, reminders.Reminder{ID: "lostclaim", Kind: "k", DueAt: time.Now()}))
	got.waitN(t, 1, 10*time.Second) // well inside the lease
	ds, _ := got.all()
	assert.Equal(t, 1, ds[0].Attempt)
	assert.False(t, lost.armed.Load(), "the claim's reply was dropped")
	require.Eventually(t, func() bool {
		_, err := s.Get(ctx, "lostclaim")
		return err != nil
	}, 10*time.Second, 10*time.Millisecond, "acknowledged")
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, 1, got.len())
}

// pipelineSpy is a go-redis hook that calls f with the arguments of every
// command of a pipeline that ran (not one Redis refused with NOSCRIPT, sent
// again with the script's body).
type pipelineSpy func(args []any)

func (f pipelineSpy) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (f pipelineSpy) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (f pipelineSpy) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			if c.Err() == nil {
				f(c.Args())
			}
		}
		return err
	}
}

// TestRedisScheduleManyLargeBatchSendsEachIDOnce: a batch too large for
// one transaction goes in script calls between which Redis serves other
// clients, so an ID's earlier reminder in an earlier call could be claimed
// and delivered before the later one, which wins, is stored. Only the
// last reminder of each ID is sent.
func TestRedisScheduleManyLargeBatchSendsEachIDOnce(t *testing.T) {
	t.Parallel()
	r, _ := newRedis(t, reminders.WithShards(1))
	var carrying atomic.Int64
	c := r.NewClient(t)
	c.AddHook(pipelineSpy(func(args []any) {
		if slices.Contains(args, any("dup")) {
			carrying.Add(1)
		}
	}))
	s := newOn(t, c, r.Prefix, reminders.WithShards(1))
	ctx := bg(t)
	rs := []reminders.Reminder{{ID: "dup", Kind: "k", DueAt: time.Now(), Payload: []byte("first")}}
	for i := range 2000 { // over ScheduleMany's 1,024 for one transaction
		rs = append(rs, reminders.Reminder{ID: "f" + strconv.Itoa(i), Kind: "k", DueAt: time.Now().Add(time.Hour)})
	}
	rs = append(rs, reminders.Reminder{ID: "dup", Kind: "k", DueAt: time.Now(), Payload: []byte("second")})
	require.NoError(t, s.ScheduleMany(ctx, rs))
	assert.Equal(t, int64(1), carrying.Load(), "script calls that carry the ID")
	info, err := s.Get(ctx, "dup")
	require.NoError(t, err)
	assert.Equal(t, "second", string(info.Payload))
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(2001), st.Pending)
}
