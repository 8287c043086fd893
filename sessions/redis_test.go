package sessions_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/sessions"
	"github.com/sytefy/kit/sessions/sessionstest"
)

func TestRedisStoreConformance(t *testing.T) {
	sessionstest.Run(t, newRedisHarness)
}

func newRedisHarness(t *testing.T, opts ...sessions.Option) sessionstest.Harness {
	r := redistest.New(t)
	opts = append([]sessions.Option{sessions.WithKeyPrefix(r.Prefix)}, opts...)
	return sessionstest.Harness{
		Store:    newRedisStore(t, r.Client, opts...),
		Instance: func() sessions.Store { return newRedisStore(t, r.NewClient(t), opts...) },
		Advance:  r.FastForward,
		Keys:     func(ctx context.Context) (map[string]time.Duration, error) { return keysWithTTL(ctx, r) },
		SetRaw: func(ctx context.Context, userID, id, raw string) error {
			return r.Client.Set(ctx, sessions.SessionKey(r.Prefix, userID, id), raw, time.Hour).Err()
		},
	}
}

func newRedisStore(t testing.TB, c redis.UniversalClient, opts ...sessions.Option) *sessions.RedisStore {
	t.Helper()
	s, err := sessions.NewRedisStore(c, opts...)
	require.NoError(t, err)
	return s
}

// keysWithTTL returns every key of r's prefix with its PTTL; a key without
// a TTL gets 0.
func keysWithTTL(ctx context.Context, r *redistest.Redis) (map[string]time.Duration, error) {
	keys, err := r.Keys(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Duration, len(keys))
	for _, k := range keys {
		ttl, err := r.Client.PTTL(ctx, k).Result()
		if err != nil {
			return nil, err
		}
		switch {
		case ttl == -2: // expired between SCAN and PTTL
		case ttl < 0:
			out[k] = 0
		default:
			out[k] = ttl
		}
	}
	return out, nil
}
