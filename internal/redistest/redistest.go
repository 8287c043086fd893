// Package redistest gives tests a Redis to run against: an in-process
// miniredis by default, a real server when REDIS_URL is set, a real cluster
// when REDIS_CLUSTER_ADDRS is set. Every test gets its own key prefix, and
// the keys under it are deleted when the test ends, so suites can share one
// server without FLUSHALL.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Mode names the kind of Redis a test runs against.
type Mode string

// The modes, chosen by the environment (see CurrentMode).
const (
	// Mini is an in-process miniredis, the default.
	Mini Mode = "miniredis"
	// Single is one real Redis server, at REDIS_URL.
	Single Mode = "redis"
	// Cluster is a real Redis Cluster, at REDIS_CLUSTER_ADDRS (comma-separated).
	Cluster Mode = "cluster"
)

// Redis is one test's view of a Redis deployment.
type Redis struct {
	// Client is connected and ready; it is closed when the test ends.
	Client redis.UniversalClient
	// Prefix is unique to this test (letters and digits only); pass it to
	// the store or scheduler as its key prefix.
	Prefix string
	// Mode tells which kind of Redis this is.
	Mode Mode
	// Mini is the in-process server in Mini mode, nil otherwise.
	Mini *miniredis.Miniredis
}

// CurrentMode reports which Redis New will use, from the environment:
// REDIS_CLUSTER_ADDRS wins over REDIS_URL; neither means miniredis.
func CurrentMode() Mode {
	switch {
	case os.Getenv("REDIS_CLUSTER_ADDRS") != "":
		return Cluster
	case os.Getenv("REDIS_URL") != "":
		return Single
	default:
		return Mini
	}
}

// New returns a Redis for t and registers its cleanup. A real server that
// does not answer fails the test: a suite asked to run against Redis must
// not pass silently without it.
func New(t testing.TB) *Redis {
	t.Helper()
	r := &Redis{Prefix: NewPrefix(), Mode: CurrentMode()}
	switch r.Mode {
	case Cluster:
		addrs := strings.Split(os.Getenv("REDIS_CLUSTER_ADDRS"), ",")
		r.Client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	case Single:
		opt, err := redis.ParseURL(os.Getenv("REDIS_URL"))
		if err != nil {
			t.Fatalf("redistest: REDIS_URL: %v", err)
		}
		opt.ContextTimeoutEnabled = true
		r.Client = redis.NewClient(opt)
	default:
		r.Mini = miniredis.RunT(t)
		r.Client = redis.NewClient(&redis.Options{Addr: r.Mini.Addr(), ContextTimeoutEnabled: true})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Client.Ping(ctx).Err(); err != nil {
		_ = r.Client.Close()
		t.Fatalf("redistest: %s does not answer: %v", r.Mode, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if r.Mode != Mini {
			if err := r.DeleteAll(ctx); err != nil {
				t.Errorf("redistest: cleanup of prefix %q: %v", r.Prefix, err)
			}
		}
		_ = r.Client.Close()
	})
	return r
}

// NewClient returns another client to the same deployment as r (a second
// "instance" of an application), closed when the test ends.
func (r *Redis) NewClient(t testing.TB) redis.UniversalClient {
	t.Helper()
	var c redis.UniversalClient
	switch r.Mode {
	case Cluster:
		o := *r.Client.(*redis.ClusterClient).Options()
		c = redis.NewClusterClient(&o)
	default:
		o := *r.Client.(*redis.Client).Options()
		c = redis.NewClient(&o)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// FastForward lets d pass for Redis TTLs: miniredis does not expire keys by
// wall time, so it is moved forward; a real server is waited for.
func (r *Redis) FastForward(d time.Duration) {
	if r.Mini != nil {
		r.Mini.FastForward(d)
		return
	}
	time.Sleep(d)
}

// Keys returns every key that contains r.Prefix, on every master.
func (r *Redis) Keys(ctx context.Context) ([]string, error) {
	var mu sync.Mutex
	var keys []string
	err := r.eachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, "*"+r.Prefix+"*", 1000).Iterator()
		for it.Next(ctx) {
			mu.Lock()
			keys = append(keys, it.Val())
			mu.Unlock()
		}
		return it.Err()
	})
	return keys, err
}

// DeleteAll deletes every key that contains r.Prefix, one at a time so that
// no command crosses slots.
func (r *Redis) DeleteAll(ctx context.Context) error {
	keys, err := r.Keys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := r.Client.Del(ctx, k).Err(); err != nil {
			return err
		}
	}
	return nil
}

func (r *Redis) eachMaster(ctx context.Context, fn func(context.Context, *redis.Client) error) error {
	switch c := r.Client.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, fn)
	case *redis.Client:
		return fn(ctx, c)
	}
	return nil
}

// NewPrefix returns a fresh key prefix: "kt" and 12 hex digits. It holds no
// character that is special in keys or SCAN patterns.
func NewPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "kt" + hex.EncodeToString(b[:])
}
