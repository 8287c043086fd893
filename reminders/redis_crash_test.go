package reminders_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/reminders"
)

// Environment of the child worker (TestRedisChildWorker).
const (
	childPrefixEnv = "KIT_REMINDERS_CHILD_PREFIX" // set: run as the child
	childAddrEnv   = "KIT_REMINDERS_CHILD_ADDR"   // miniredis's address
	childShardsEnv = "KIT_REMINDERS_CHILD_SHARDS"
)

// TestRedisChildWorker is not a test of its own: TestRedisWorkerKilled
// runs the test binary again with only this test and childPrefixEnv set,
// and it becomes a worker (lease 1s) whose handler announces each
// delivery on stdout, then blocks until the process is killed.
func TestRedisChildWorker(t *testing.T) {
	prefix := os.Getenv(childPrefixEnv)
	if prefix == "" {
		t.Skip("the child worker of TestRedisWorkerKilled; runs only as its child process")
	}
	var client redis.UniversalClient
	switch addr := os.Getenv(childAddrEnv); {
	case addr != "":
		client = redis.NewClient(&redis.Options{Addr: addr})
	default:
		client = redistest.New(t).Client // REDIS_URL or REDIS_CLUSTER_ADDRS, inherited
	}
	shards, err := strconv.Atoi(os.Getenv(childShardsEnv))
	require.NoError(t, err)
	s, err := reminders.NewRedisScheduler(client, reminders.WithKeyPrefix(prefix),
		reminders.WithShards(shards), reminders.WithLease(time.Second))
	require.NoError(t, err)
	block := make(chan struct{})
	_ = s.Run(context.Background(), reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
		fmt.Printf("child handling %s %d\n", d.ID, d.Attempt)
		<-block // until SIGKILL
		return nil
	}))
}

// TestRedisWorkerKilled: a worker process killed with SIGKILL in the
// middle of a handler loses nothing: once its lease (1s) expires, another
// worker takes the reminder back and delivers it, as attempt 2.
func TestRedisWorkerKilled(t *testing.T) {
	t.Parallel()
	r, s := newRedis(t)
	require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "job", Kind: "k", DueAt: time.Now(), Payload: []byte("p")}))

	cmd := exec.Command(os.Args[0], "-test.run=^TestRedisChildWorker$", "-test.count=1")
	cmd.Env = append(os.Environ(), childPrefixEnv+"="+r.Prefix, childShardsEnv+"="+strconv.Itoa(testShards()))
	if r.Mini != nil {
		cmd.Env = append(cmd.Env, childAddrEnv+"="+r.Mini.Addr())
	}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	started := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "child handling ") {
				started <- strings.TrimPrefix(sc.Text(), "child handling ")
				break
			}
		}
		for sc.Scan() { // drain until the child dies
		}
	}()
	select {
	case line := <-started:
		require.Equal(t, "job 1", line)
	case <-time.After(30 * time.Second):
		t.Fatal("the child worker did not start the handler")
	}
	info, err := s.Get(bg(t), "job")
	require.NoError(t, err)
	require.Equal(t, reminders.StateInFlight, info.State, "claimed by the child")

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	var got deliveries
	runWorker(t, newOn(t, r.Client, r.Prefix, reminders.WithLease(time.Second)), record(&got))
	got.waitN(t, 1, 15*time.Second)
	time.Sleep(300 * time.Millisecond)
	ds, _ := got.all()
	require.Len(t, ds, 1, "delivered once by the survivor")
	assert.Equal(t, "job", ds[0].ID)
	assert.Equal(t, []byte("p"), ds[0].Payload)
	assert.Equal(t, 2, ds[0].Attempt, "an expired lease counts as an attempt")
}

// TestRedisGracefulShutdown: cancelling Run's context stops claiming and
// lets running handlers finish (they are acknowledged, not handed to
// anyone else); what was not claimed is delivered by another worker. No
// reminder is delivered twice.
func TestRedisGracefulShutdown(t *testing.T) {
	t.Parallel()
	r, s := newRedis(t)
	var got deliveries
	started := make(chan struct{}, 100)
	slow := reminders.HandlerFunc(func(ctx context.Context, d reminders.Delivery) error {
		got.add(d)
		started <- struct{}{}
		time.Sleep(300 * time.Millisecond) // ignores ctx: the shutdown must wait anyway
		return nil
	})
	stopA := runWorker(t, newOn(t, r.Client, r.Prefix, reminders.WithConcurrency(4)), slow)
	const n = 12
	rs := make([]reminders.Reminder, n)
	for i := range rs {
		rs[i] = reminders.Reminder{ID: fmt.Sprint("g", i), Kind: "k", DueAt: time.Now()}
	}
	require.NoError(t, s.ScheduleMany(bg(t), rs))
	for range 4 {
		<-started
	}
	stopA() // returns once Run has
	require.Equal(t, 4, got.len(), "no claim after the context ended")
	st, err := s.Stats(bg(t))
	require.NoError(t, err)
	assert.Equal(t, [3]int64{n - 4, 0, 0}, [3]int64{st.Pending, st.InFlight, st.Dead},
		"the running ones were acknowledged, the rest left pending")

	runWorker(t, newOn(t, r.NewClient(t), r.Prefix), slow)
	got.waitN(t, n, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, n, got.len())
	for _, x := range rs {
		assert.Equal(t, 1, got.count(x.ID), x.ID)
	}
}

// TestRedisShutdownTimeoutReleases: a handler still running when the
// shutdown timeout passes has its context cancelled, and its reminder is
// released at once (same attempt) for another worker; its late outcome is
// ignored.
func TestRedisShutdownTimeoutReleases(t *testing.T) {
	t.Parallel()
	r, s := newRedis(t)
	started := make(chan struct{}, 1)
	stuck := reminders.HandlerFunc(func(ctx context.Context, d reminders.Delivery) error {
		started <- struct{}{}
		<-ctx.Done()
		return errors.New("interrupted")
	})
	stopA := runWorker(t, newOn(t, r.Client, r.Prefix, reminders.WithShutdownTimeout(200*time.Millisecond)), stuck)
	require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "stuck", Kind: "k", DueAt: time.Now()}))
	<-started
	stopA()
	info, err := s.Get(bg(t), "stuck")
	require.NoError(t, err)
	assert.Equal(t, reminders.StatePending, info.State, "released, not left leased")
	assert.Equal(t, 1, info.Attempt, "a release is not a failed attempt")
	assert.Empty(t, info.LastError, "the interrupted attempt's error is ignored")

	var got deliveries
	runWorker(t, newOn(t, r.NewClient(t), r.Prefix, reminders.WithLease(time.Hour)), record(&got))
	got.waitN(t, 1, 5*time.Second) // well before any lease could expire
	ds, _ := got.all()
	assert.Equal(t, 1, ds[0].Attempt)
}

// ackGate is a go-redis hook that holds every pipeline carrying an ack
// (the settle script's "ack" argument) until opened, so that a test can
// stop an outcome on its way to Redis.
type ackGate struct {
	held chan struct{} // an ack is being held
	open chan struct{}
}

func (g *ackGate) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (g *ackGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (g *ackGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if slices.Contains(cmd.Args(), any("ack")) {
				select {
				case g.held <- struct{}{}:
				default:
				}
				<-g.open
				break
			}
		}
		return next(ctx, cmds)
	}
}

// TestRedisShutdownKeepsFinishedOutcome: a handler that returns nil just
// before the shutdown timeout passes, its ack still on the way to Redis
// when it does, is not released for another worker: its ack is recorded
// and the reminder is not delivered again.
func TestRedisShutdownKeepsFinishedOutcome(t *testing.T) {
	t.Parallel()
	r, s := newRedis(t)
	gate := &ackGate{held: make(chan struct{}, 1), open: make(chan struct{})}
	c := r.NewClient(t)
	c.AddHook(gate)
	started, finish := make(chan struct{}), make(chan struct{})
	var got deliveries
	stopA := runWorker(t, newOn(t, c, r.Prefix, reminders.WithShutdownTimeout(300*time.Millisecond)),
		reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
			got.add(d)
			close(started)
			<-finish
			return nil
		}))
	require.NoError(t, s.Schedule(bg(t), reminders.Reminder{ID: "r", Kind: "k", DueAt: time.Now()}))
	<-started
	stopped := make(chan struct{})
	go func() { stopA(); close(stopped) }() // the shutdown timeout starts
	close(finish)                           // the handler returns nil at once...
	<-gate.held                             // ...and its ack is on the way, held
	time.Sleep(600 * time.Millisecond)      // while the shutdown timeout passes
	close(gate.open)
	<-stopped

	_, err := s.Get(bg(t), "r")
	assert.ErrorIs(t, err, reminders.ErrNotFound, "acknowledged, not released")
	runWorker(t, newOn(t, r.NewClient(t), r.Prefix), record(&got))
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, 1, got.len(), "delivered once")
}

// TestRedisOutage: a worker survives its Redis hanging (SIGSTOP) and dying
// (SIGKILL, restarted empty): Schedule fails with ErrUnavailable
// meanwhile, Run keeps going, and it delivers again once Redis is back.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	c := srv.Client()
	logs := &logBuffer{}
	s, err := reminders.NewRedisScheduler(c, reminders.WithLogger(slog.New(logs)))
	require.NoError(t, err)
	var got deliveries
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, record(&got)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("Run did not return")
		}
	})
	schedule := func(id string, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return s.Schedule(ctx, reminders.Reminder{ID: id, Kind: "k", DueAt: time.Now()})
	}
	require.NoError(t, schedule("before", 5*time.Second))
	got.waitN(t, 1, 5*time.Second)

	srv.Pause()
	assert.ErrorIs(t, schedule("paused", 300*time.Millisecond), reminders.ErrUnavailable)
	time.Sleep(time.Second)
	srv.Resume()
	require.NoError(t, schedule("resumed", 5*time.Second))
	require.Eventually(t, func() bool { return got.count("resumed") == 1 }, 15*time.Second, 10*time.Millisecond)

	srv.Kill()
	assert.ErrorIs(t, schedule("killed", time.Second), reminders.ErrUnavailable)
	time.Sleep(time.Second)
	srv.Restart()
	require.NoError(t, schedule("restarted", 5*time.Second))
	require.Eventually(t, func() bool { return got.count("restarted") == 1 }, 20*time.Second, 10*time.Millisecond)

	select {
	case err := <-done:
		t.Fatalf("Run returned during the outage: %v", err)
	default:
	}
	assert.NotEmpty(t, logs.find(slog.LevelWarn, "Redis unreachable"), "the outage was logged")
}
