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

// TestRedisRotateReplyLost: Redis runs Rotate's script, and the reply is
// lost with the connection; go-redis sends the script again on a new
// connection, and the second run finds the tombstone the first one left.
// The call presented the token once, so it is not reuse: Rotate returns
// the successor the first run created, and the family lives. A later call
// with the same token is reuse as ever.
func TestRedisRotateReplyLost(t *testing.T) {
	r := redistest.New(t)
	single, ok := r.Client.(*redis.Client)
	if !ok {
		t.Skip("the proxy fronts one server")
	}
	o := *single.Options()
	p := redistest.NewLostReply(t, o.Addr)
	o.Addr = p.Addr()
	c := redis.NewClient(&o)
	t.Cleanup(func() { _ = c.Close() })
	s := newRedisStore(t, c, sessions.WithKeyPrefix(r.Prefix))
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)

	// The script is loaded first, so the lost reply is EVALSHA's.
	require.NoError(t, s.Remember(ctx, sessions.Session{ID: "warm", UserID: "u", ExpiresAt: exp}))
	_, err := s.Rotate(ctx, "u", "warm", sessions.Session{ID: "warm2", ExpiresAt: exp})
	require.NoError(t, err)

	meta := map[string]string{"device": "iPhone"}
	require.NoError(t, s.Remember(ctx, sessions.Session{ID: "old", UserID: "u", ExpiresAt: exp, Meta: meta}))
	p.Arm()
	next, err := s.Rotate(ctx, "u", "old", sessions.Session{ID: "new", ExpiresAt: exp})
	require.Equal(t, int64(1), p.Lost(), "the proxy lost no reply: the test tested nothing")
	require.NoError(t, err, "one presentation, sent twice by the client, is not reuse")
	assert.Equal(t, "new", next.ID)
	assert.Equal(t, meta, next.Meta, "the second run reports the Meta the first one kept")
	for id, want := range map[string]bool{"old": false, "new": true, "warm2": true} {
		active, err := s.IsActive(ctx, "u", id)
		require.NoError(t, err)
		assert.Equal(t, want, active, id)
	}

	_, err = s.Rotate(ctx, "u", "old", sessions.Session{ID: "thief", ExpiresAt: exp})
	require.ErrorIs(t, err, sessions.ErrReuseDetected, "a second presentation is reuse")
	active, err := s.IsActive(ctx, "u", "new")
	require.NoError(t, err)
	assert.False(t, active, "reuse revoked the family")
}
