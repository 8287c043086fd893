package e2e

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// Main is each program's TestMain: it silences go-redis's own logger (the
// failure tests make it print a line per failed dial; the service logs
// the same failures through slog) and checks that no goroutine outlives
// the tests: the server, the workers and the embedded Redis all stop.
//
// One go-redis goroutine is let off: after PoolSize failed dials a pool
// starts tryDial, which sleeps a second between attempts and notices that
// its client was closed only when it wakes.
func Main(m *testing.M) {
	redis.SetLogger(discard{})
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
}

type discard struct{}

func (discard) Printf(context.Context, string, ...any) {}
