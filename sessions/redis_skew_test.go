package sessions_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/sessions"
)

// Clock skew: the store's clock (WithClock) is the one that judges expiry,
// whatever Redis's clock and other instances' clocks say. These tests give
// stores clocks up to a minute from Redis's, and from each other.

// skewed is a Redis store on client c under r's prefix, whose clock is
// clock: one instance of an application.
func skewed(t *testing.T, r *redistest.Redis, c redis.UniversalClient, clock func() time.Time) *sessions.RedisStore {
	return newRedisStore(t, c, sessions.WithKeyPrefix(r.Prefix), sessions.WithClock(clock))
}

// at is a clock that reads t.
func at(t time.Time) func() time.Time { return func() time.Time { return t } }

// active is s.IsActive, which must not fail.
func active(t *testing.T, s sessions.Store, userID, id string) bool {
	t.Helper()
	ok, err := s.IsActive(context.Background(), userID, id)
	require.NoError(t, err)
	return ok
}

// TestRedisReuseWhenRotatorAhead: the instance that rotates runs 500 ms
// ahead of Redis and of another instance. A replay of the rotated token on
// the other instance, while the token is still live by that one's clock,
// must find the tombstone and revoke the family: a tombstone that lasted
// only until the token's expiry by the rotator's clock would be gone.
func TestRedisReuseWhenRotatorAhead(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	now := time.Now().Truncate(time.Millisecond)
	ahead := skewed(t, r, r.Client, at(now.Add(500*time.Millisecond)))
	readerNow := now
	reader := skewed(t, r, r.NewClient(t), func() time.Time { return readerNow })
	ctx := context.Background()

	require.NoError(t, ahead.Remember(ctx, sessions.Session{ID: "x", UserID: "u", ExpiresAt: now.Add(900 * time.Millisecond)}))
	_, err := ahead.Rotate(ctx, "u", "x", sessions.Session{ID: "y", ExpiresAt: now.Add(time.Hour)})
	require.NoError(t, err)
	r.FastForward(500 * time.Millisecond)
	readerNow = now.Add(500 * time.Millisecond) // x has 400 ms left by the reader's clock

	_, err = reader.Rotate(ctx, "u", "x", sessions.Session{ID: "w", ExpiresAt: readerNow.Add(time.Hour)})
	require.ErrorIs(t, err, sessions.ErrReuseDetected)
	assert.False(t, active(t, reader, "u", "y"), "the family outlived a replay of its rotated token")
}

// TestRedisIndexOutlivesSkewedKeys: instances whose clocks run two
// minutes apart write sessions of one user. Whatever each one's clock, no
// session key may outlive the user's index, or RevokeAllForUser, which
// walks the index, would leave that session active. (Both expire on
// Redis's clock; had each writer set TTLs from its own clock, the one
// ahead would cut the index below the key of the one behind.)
func TestRedisIndexOutlivesSkewedKeys(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	now := time.Now()
	behind := skewed(t, r, r.Client, at(now.Add(-time.Minute)))
	ahead := skewed(t, r, r.NewClient(t), at(now.Add(time.Minute)))
	ctx := context.Background()

	// By the clock ahead, s1 has 1 s left, and s2 ends before it; by the
	// clock behind, s1 has 121 s.
	exp := now.Add(61 * time.Second)
	require.NoError(t, behind.Remember(ctx, sessions.Session{ID: "s1", UserID: "u", ExpiresAt: exp}))
	require.NoError(t, ahead.Remember(ctx, sessions.Session{ID: "s2", UserID: "u", ExpiresAt: exp.Add(-time.Millisecond)}))
	r.FastForward(1500 * time.Millisecond)

	_, err := behind.RevokeAllForUser(ctx, "u")
	require.NoError(t, err)
	assert.False(t, active(t, behind, "u", "s1"), "a session outlived RevokeAllForUser")
}

// TestRedisRevokeAllUnderClockSkew: an instance whose clock runs ahead
// prunes a session from the index before Redis expires its key; the key
// must go with it, or an instance whose clock runs behind would still
// see the session active after RevokeAllForUser (the index no longer
// finds it).
func TestRedisRevokeAllUnderClockSkew(t *testing.T) {
	r := redistest.New(t)
	now := time.Now()
	ahead := skewed(t, r, r.Client, at(now.Add(time.Minute)))
	behind := skewed(t, r, r.NewClient(t), at(now))
	ctx := context.Background()

	require.NoError(t, behind.Remember(ctx, sessions.Session{ID: "s1", UserID: "u", ExpiresAt: now.Add(30 * time.Second)}))
	_, err := ahead.ListForUser(ctx, "u") // prunes s1: expired by its clock
	require.NoError(t, err)
	_, err = behind.RevokeAllForUser(ctx, "u")
	require.NoError(t, err)
	assert.False(t, active(t, behind, "u", "s1"), "a session outlived RevokeAllForUser")
}

// TestRedisReuseUnderClockSkew: the store's clock runs a minute behind
// Redis's. A rotated token is presented again before it expires by the
// store's clock but after it would have by Redis's: its tombstone must
// still be there, or the replay would be taken for an unknown token and
// its family, the successor included, left alive.
func TestRedisReuseUnderClockSkew(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	now := time.Now()
	s := skewed(t, r, r.Client, at(now.Add(-time.Minute)))
	ctx := context.Background()

	// 63s from the store's now: 3s from Redis's.
	require.NoError(t, s.Remember(ctx, sessions.Session{ID: "x", UserID: "u", ExpiresAt: now.Add(3 * time.Second)}))
	_, err := s.Rotate(ctx, "u", "x", sessions.Session{ID: "y", ExpiresAt: now.Add(time.Hour)})
	require.NoError(t, err)
	r.FastForward(4 * time.Second)

	_, err = s.Rotate(ctx, "u", "x", sessions.Session{ID: "w", ExpiresAt: now.Add(time.Hour)})
	require.ErrorIs(t, err, sessions.ErrReuseDetected)
	assert.False(t, active(t, s, "u", "y"), "the family outlived reuse")
}

// TestRedisNextIDFreeByStoreClock: the store's clock runs a minute ahead
// of Redis's. A rotated session's tombstone, expired by the store's clock
// though Redis still keeps it, no longer holds its ID: reusing the ID as a
// successor works, as on the memory store.
func TestRedisNextIDFreeByStoreClock(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	now := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	clock := func() time.Time { return now }
	s := skewed(t, r, r.Client, clock)
	m, err := sessions.NewMemoryStore(sessions.WithClock(clock))
	require.NoError(t, err)
	ctx := context.Background()
	start := now
	for name, st := range map[string]sessions.Store{"redis": s, "memory": m} {
		now = start
		require.NoError(t, st.Remember(ctx, sessions.Session{ID: "x", UserID: "u", ExpiresAt: now.Add(100 * time.Millisecond)}), name)
		_, err := st.Rotate(ctx, "u", "x", sessions.Session{ID: "y", ExpiresAt: now.Add(time.Hour)})
		require.NoError(t, err, name)
		now = now.Add(200 * time.Millisecond) // x's tombstone has expired by the store's clock
		require.NoError(t, st.Remember(ctx, sessions.Session{ID: "z", UserID: "u", ExpiresAt: now.Add(time.Hour)}), name)
		_, err = st.Rotate(ctx, "u", "z", sessions.Session{ID: "x", ExpiresAt: now.Add(time.Hour)})
		assert.NoError(t, err, "%s: x is free again", name)
	}

	// The old tombstone went with it: an instance whose clock runs behind,
	// by which it would still be live, takes the reused ID, once revoked,
	// for an unknown one, not for reuse of the old family (y's).
	require.NoError(t, s.Revoke(ctx, "u", "x"))
	behind := skewed(t, r, r.NewClient(t), at(start))
	_, err = behind.Rotate(ctx, "u", "x", sessions.Session{ID: "w", ExpiresAt: start.Add(time.Hour)})
	require.ErrorIs(t, err, sessions.ErrNotActive)
	assert.True(t, active(t, behind, "u", "y"), "an unrelated family was revoked")
}
