package sessions_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/sessions"
	"github.com/sytefy/kit/sessions/sessionstest"
)

// TestRedisStoreOverTLSWithACL runs the conformance suite against a
// redis-server that speaks only TLS (certificates made for this test) and
// admits only an ACL user, connecting the way an application does: a
// rediss://user:pass@host URL through redis.ParseURL, plus the CA.
func TestRedisStoreOverTLSWithACL(t *testing.T) {
	srv := redistest.StartTLSServer(t)
	sessionstest.Run(t, func(t *testing.T, opts ...sessions.Option) sessionstest.Harness {
		r := tlsRedis(t, srv)
		opts = append([]sessions.Option{sessions.WithKeyPrefix(r.Prefix)}, opts...)
		return sessionstest.Harness{
			Store:    newRedisStore(t, r.Client, opts...),
			Instance: func() sessions.Store { return newRedisStore(t, tlsRedis(t, srv).Client, opts...) },
			Advance:  func(d time.Duration) { time.Sleep(d) },
			Keys:     func(ctx context.Context) (map[string]time.Duration, error) { return keysWithTTL(ctx, r) },
			SetRaw: func(ctx context.Context, userID, id, raw string) error {
				return r.Client.Set(ctx, sessions.SessionKey(r.Prefix, userID, id), raw, time.Hour).Err()
			},
		}
	})
}

// tlsRedis is a client of srv as user TLSUser, with a fresh prefix.
func tlsRedis(t *testing.T, srv *redistest.TLSServer) *redistest.Redis {
	t.Helper()
	opt, err := srv.Options(redistest.TLSPassword)
	require.NoError(t, err)
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return &redistest.Redis{Client: c, Prefix: redistest.NewPrefix(), Mode: redistest.Single}
}

// TestRedisStoreWrongPassword: a client refused by Redis (wrong password)
// gets a clear error wrapping ErrUnavailable that names the refusal, on
// every method; IsActive stays false.
func TestRedisStoreWrongPassword(t *testing.T) {
	srv := redistest.StartTLSServer(t)
	good := newRedisStore(t, srv.Client(redistest.TLSPassword), sessions.WithKeyPrefix("app"))
	bad := newRedisStore(t, srv.Client("wrong-password"), sessions.WithKeyPrefix("app"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	exp := time.Now().Add(time.Hour)
	require.NoError(t, good.Remember(ctx, sessions.Session{ID: "s1", UserID: "u", ExpiresAt: exp}))

	ok, err := bad.IsActive(ctx, "u", "s1")
	assert.False(t, ok, "IsActive true for a client Redis refused")
	require.ErrorIs(t, err, sessions.ErrUnavailable)
	assert.Contains(t, err.Error(), "WRONGPASS", "the error says why")
	assert.ErrorIs(t, bad.Remember(ctx, sessions.Session{ID: "s2", UserID: "u", ExpiresAt: exp}), sessions.ErrUnavailable)
	_, err = bad.Rotate(ctx, "u", "s1", sessions.Session{ID: "s3", ExpiresAt: exp})
	assert.ErrorIs(t, err, sessions.ErrUnavailable)
	assert.ErrorIs(t, bad.Revoke(ctx, "u", "s1"), sessions.ErrUnavailable)
	_, err = bad.RevokeAllForUser(ctx, "u")
	assert.ErrorIs(t, err, sessions.ErrUnavailable)
	_, err = bad.ListForUser(ctx, "u")
	assert.ErrorIs(t, err, sessions.ErrUnavailable)

	ok, err = good.IsActive(ctx, "u", "s1")
	require.NoError(t, err)
	assert.True(t, ok, "nothing the refused client tried took effect")
}

// TestRedisStorePrefixesIsolate: two applications on one Redis, with
// different key prefixes and the same user and token IDs, never see or
// touch each other's sessions.
func TestRedisStorePrefixesIsolate(t *testing.T) {
	r := redistest.New(t)
	// Cleanup of r deletes every key containing r.Prefix: both apps'.
	a := newRedisStore(t, r.Client, sessions.WithKeyPrefix(r.Prefix+"-a"))
	b := newRedisStore(t, r.NewClient(t), sessions.WithKeyPrefix(r.Prefix+"-a-b"))
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	active := func(s sessions.Store, id string) bool {
		t.Helper()
		ok, err := s.IsActive(ctx, "u", id)
		require.NoError(t, err)
		return ok
	}

	require.NoError(t, a.Remember(ctx, sessions.Session{ID: "only-a", UserID: "u", ExpiresAt: exp}))
	assert.False(t, active(b, "only-a"))
	list, err := b.ListForUser(ctx, "u")
	require.NoError(t, err)
	assert.Empty(t, list)
	n, err := b.RevokeAllForUser(ctx, "u")
	require.NoError(t, err)
	assert.Zero(t, n)
	require.NoError(t, b.Revoke(ctx, "u", "only-a"))
	_, err = b.Rotate(ctx, "u", "only-a", sessions.Session{ID: "b-next", ExpiresAt: exp})
	assert.ErrorIs(t, err, sessions.ErrNotActive)
	assert.True(t, active(a, "only-a"), "b's calls left a's session alone")

	for _, s := range []sessions.Store{a, b} {
		require.NoError(t, s.Remember(ctx, sessions.Session{ID: "both", UserID: "u", ExpiresAt: exp}))
	}
	_, err = a.Rotate(ctx, "u", "both", sessions.Session{ID: "both-2", ExpiresAt: exp})
	require.NoError(t, err)
	_, err = a.Rotate(ctx, "u", "both", sessions.Session{ID: "both-3", ExpiresAt: exp})
	require.ErrorIs(t, err, sessions.ErrReuseDetected, "reuse in a")
	assert.True(t, active(b, "both"), "reuse detection in a revoked b's session")
	_, err = a.RevokeAllForUser(ctx, "u")
	require.NoError(t, err)
	assert.True(t, active(b, "both"), "a's revoke-all reached b")
	_, err = b.Rotate(ctx, "u", "both", sessions.Session{ID: "both-2", ExpiresAt: exp})
	require.NoError(t, err, "b's rotation is its own")
}

// TestLogsNeverHoldTokenIDs captures every log record, at DEBUG, over a
// workload that reaches each logging path (rotation, reuse, grace,
// eviction, revoke-all, corrupt values and members, bad input, a dead
// backend), on the memory store, the Redis store and a store whose Redis
// is gone, and checks that no token or family ID appears in clear, in the
// logs or in the returned errors; the short hash does.
func TestLogsNeverHoldTokenIDs(t *testing.T) {
	r := redistest.New(t)
	// Nothing listens on a port just freed: every call fails at once.
	port, err := redistest.FreePort()
	require.NoError(t, err)
	dead := redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = dead.Close() })

	backends := map[string]func(opts ...sessions.Option) sessions.Store{
		"memory": func(opts ...sessions.Option) sessions.Store {
			s, err := sessions.NewMemoryStore(opts...)
			require.NoError(t, err)
			return s
		},
		"redis": func(opts ...sessions.Option) sessions.Store {
			return newRedisStore(t, r.Client, append(opts, sessions.WithKeyPrefix(r.Prefix))...)
		},
		"redis down": func(opts ...sessions.Option) sessions.Store {
			return newRedisStore(t, dead, opts...)
		},
	}
	for name, build := range backends {
		t.Run(name, func(t *testing.T) {
			var logs lockedBuffer
			logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			s := build(sessions.WithLogger(logger), sessions.WithMaxSessionsPerUser(3),
				sessions.WithRotationGrace(time.Minute))
			secrets, errs := tokenWorkload(t, s, r, name == "redis")

			out := logs.String()
			require.NotEmpty(t, out, "the workload logs something, or this test proves nothing")
			for _, id := range secrets {
				// The hex core also catches the escaped form a key or index
				// member holds ("tok%3A...%25").
				core := strings.TrimSuffix(strings.TrimPrefix(id, "tok:"), "%")
				assert.NotContains(t, out, core, "a token ID in clear in the logs")
				for _, err := range errs {
					assert.NotContains(t, err.Error(), core, "a token ID in clear in a returned error")
				}
			}
			if name != "redis down" {
				sum := sha256.Sum256([]byte(secrets[0]))
				assert.Contains(t, out, hex.EncodeToString(sum[:4]), "the reused ID's short hash is logged")
			}
		})
	}
}

// tokenWorkload drives s through every operation and returns the token and
// family IDs it used (the first is the one presented again as reuse) and
// every error the store returned.
func tokenWorkload(t *testing.T, s sessions.Store, r *redistest.Redis, corrupt bool) (secrets []string, errs []error) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	secret := func() string {
		var b [12]byte
		_, _ = rand.Read(b[:])
		// ':' and '%' make the Redis store escape the ID in keys and members.
		id := "tok:" + hex.EncodeToString(b[:]) + "%"
		secrets = append(secrets, id)
		return id
	}
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	first, fam := secret(), secret()
	keep(s.Remember(ctx, sessions.Session{ID: first, UserID: "u", FamilyID: fam, ExpiresAt: exp, Meta: map[string]string{"ip": "192.0.2.1"}}))
	second := secret()
	_, err := s.Rotate(ctx, "u", first, sessions.Session{ID: second, ExpiresAt: exp})
	keep(err)
	_, err = s.Rotate(ctx, "u", first, sessions.Session{ID: secret(), ExpiresAt: exp}) // grace: the same successor
	keep(err)
	third := secret()
	_, err = s.Rotate(ctx, "u", second, sessions.Session{ID: third, ExpiresAt: exp})
	keep(err)
	_, err = s.Rotate(ctx, "u", first, sessions.Session{ID: secret(), ExpiresAt: exp}) // reuse: an older generation
	keep(err)
	_, err = s.Rotate(ctx, "u", secret(), sessions.Session{ID: secret(), ExpiresAt: exp}) // unknown
	keep(err)
	for i := 0; i < 5; i++ { // past the per-user limit: evictions
		keep(s.Remember(ctx, sessions.Session{ID: secret(), UserID: "u", ExpiresAt: exp.Add(time.Duration(i) * time.Minute)}))
	}
	victim := secrets[len(secrets)-1]
	if corrupt {
		key := sessions.SessionKey(r.Prefix, "u", victim)
		require.NoError(t, r.Client.Set(ctx, key, "{not a session", time.Hour).Err())
		bad := secret()
		require.NoError(t, r.Client.ZAdd(ctx, sessions.IndexKey(r.Prefix, "u"),
			redis.Z{Score: float64(exp.UnixMilli()), Member: bad + "%zz"}).Err())
	}
	ok, err := s.IsActive(ctx, "u", victim)
	keep(err)
	assert.False(t, ok && corrupt, "a corrupt session is active")
	_, err = s.ListForUser(ctx, "u")
	keep(err)
	keep(s.Revoke(ctx, "u", victim))
	_, err = s.RevokeAllForUser(ctx, "u")
	keep(err)
	keep(s.Remember(ctx, sessions.Session{ID: secret() + "\x00", UserID: "u", ExpiresAt: exp})) // bad input
	keep(s.Remember(ctx, sessions.Session{ID: secret(), UserID: "u", ExpiresAt: time.Now().Add(-time.Second)}))
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.IsActive(cancelled, "u", secret())
	keep(err)
	require.NotEmpty(t, errs, "the workload provokes errors, or half of this test proves nothing")
	return secrets, errs
}

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of a
// logger.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
