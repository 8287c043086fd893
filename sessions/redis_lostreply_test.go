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

// TestRedisDelayedRememberAfterRevoke: a Remember whose first attempt is
// held up on the way (a stalled path, a proxy that reorders connections)
// while go-redis, after a read timeout or a dropped connection, sends it
// again on a new connection and succeeds. The user then logs out, with
// Revoke or RevokeAllForUser, on another instance; only then does the
// first attempt reach Redis, which runs Remember's script a second time.
// The revocation holds: the revoked ID's tombstone makes the late run
// refuse it.
func TestRedisDelayedRememberAfterRevoke(t *testing.T) {
	for _, drop := range []bool{false, true} {
		for _, how := range []string{"Revoke", "RevokeAllForUser"} {
			name := "ReadTimeout/" + how
			if drop {
				name = "ConnectionDropped/" + how
			}
			t.Run(name, func(t *testing.T) {
				r := redistest.New(t)
				single, ok := r.Client.(*redis.Client)
				if !ok {
					t.Skip("the proxy fronts one server")
				}
				o := *single.Options()
				p := redistest.NewDelayed(t, o.Addr)
				o.Addr = p.Addr()
				if !drop {
					o.ReadTimeout = 200 * time.Millisecond // the call's deadline is longer
				}
				c := redis.NewClient(&o)
				t.Cleanup(func() { _ = c.Close() })
				s := newRedisStore(t, c, sessions.WithKeyPrefix(r.Prefix))
				other := newRedisStore(t, r.Client, sessions.WithKeyPrefix(r.Prefix)) // another instance
				ctx := context.Background()
				exp := time.Now().Add(time.Hour)

				// The script is loaded first, so the held call is EVALSHA's.
				require.NoError(t, s.Remember(ctx, sessions.Session{ID: "warm", UserID: "u", ExpiresAt: exp}))
				require.NoError(t, s.Remember(ctx, sessions.Session{ID: "phone", UserID: "u", ExpiresAt: exp}))

				p.Arm(drop)
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := s.Remember(cctx, sessions.Session{ID: "s1", UserID: "u", ExpiresAt: exp})
				cancel()
				select {
				case <-p.Held():
				default:
					t.Fatal("the proxy held no call: the test tested nothing")
				}
				require.NoError(t, err, "the retry on a new connection succeeded")

				switch how {
				case "Revoke":
					require.NoError(t, other.Revoke(ctx, "u", "s1"))
				default:
					n, err := other.RevokeAllForUser(ctx, "u")
					require.NoError(t, err)
					assert.Equal(t, 3, n)
				}
				active, err := other.IsActive(ctx, "u", "s1")
				require.NoError(t, err)
				require.False(t, active)

				p.Release()
				select {
				case <-p.Answered():
				case <-time.After(10 * time.Second):
					t.Fatal("Redis never answered the held call")
				}
				active, err = other.IsActive(ctx, "u", "s1")
				require.NoError(t, err)
				assert.False(t, active, "the late run of Remember undid %s", how)
				list, err := other.ListForUser(ctx, "u")
				require.NoError(t, err)
				ids := make([]string, 0, len(list))
				for _, x := range list {
					ids = append(ids, x.ID)
				}
				if how == "Revoke" {
					assert.ElementsMatch(t, []string{"warm", "phone"}, ids)
				} else {
					assert.Empty(t, ids)
				}
				err = other.Remember(ctx, sessions.Session{ID: "s1", UserID: "u", ExpiresAt: exp})
				assert.ErrorIs(t, err, sessions.ErrInvalid, "the revoked ID stays spent")
			})
		}
	}
}
