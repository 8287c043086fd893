package reminders_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/reminders"
)

// testShards is the shard count the Redis tests use by default: six on a
// cluster, so that the three masters all hold shards; one elsewhere, with
// tests that need several asking for them.
func testShards() int {
	if redistest.CurrentMode() == redistest.Cluster {
		return 6
	}
	return 1
}

// newRedis returns a test Redis and a scheduler on it with the test's
// prefix and testShards, options appended.
func newRedis(t *testing.T, opts ...reminders.Option) (*redistest.Redis, *reminders.RedisScheduler) {
	t.Helper()
	r := redistest.New(t)
	return r, newOn(t, r.Client, r.Prefix, opts...)
}

// newOn returns another scheduler on the same keys (another "instance").
func newOn(t *testing.T, c redis.UniversalClient, prefix string, opts ...reminders.Option) *reminders.RedisScheduler {
	t.Helper()
	all := append([]reminders.Option{reminders.WithKeyPrefix(prefix), reminders.WithShards(testShards())}, opts...)
	s, err := reminders.NewRedisScheduler(c, all...)
	require.NoError(t, err)
	return s
}

// runWorker starts s.Run(h) and stops it when the test ends (or when the
// returned stop is called), requiring that it returned nil.
func runWorker(t *testing.T, s *reminders.RedisScheduler, h reminders.Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err, "Run")
			case <-time.After(30 * time.Second):
				t.Error("Run did not return 30s after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// bg is a bounded context for one call.
func bg(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// deliveries records what a handler got, safe for concurrent use.
type deliveries struct {
	mu   sync.Mutex
	got  []reminders.Delivery
	at   []time.Time
	seen map[string]int
}

func (d *deliveries) add(x reminders.Delivery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen == nil {
		d.seen = make(map[string]int)
	}
	d.got = append(d.got, x)
	d.at = append(d.at, time.Now())
	d.seen[x.ID]++
}

func (d *deliveries) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.got)
}

func (d *deliveries) all() ([]reminders.Delivery, []time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]reminders.Delivery(nil), d.got...), append([]time.Time(nil), d.at...)
}

func (d *deliveries) count(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.seen[id]
}

// waitN waits until n deliveries arrived.
func (d *deliveries) waitN(t *testing.T, n int, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return d.len() >= n }, within, 5*time.Millisecond,
		"waiting for %d deliveries", n)
}
