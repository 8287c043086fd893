package sessions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/sessions"
)

// cmdLog is a go-redis hook that records every command sent to a server.
// On a cluster it sits on each node's client, so a redirect would show as
// a second command.
type cmdLog struct {
	mu   sync.Mutex
	cmds [][]any
}

// watch returns c with log hooked into it.
func (l *cmdLog) watch(c redis.UniversalClient) {
	switch c := c.(type) {
	case *redis.ClusterClient:
		c.OnNewNode(func(node *redis.Client) { node.AddHook(l) })
	case *redis.Client:
		c.AddHook(l)
	}
}

func (l *cmdLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (l *cmdLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !setup(cmd) {
			l.mu.Lock()
			l.cmds = append(l.cmds, cmd.Args())
			l.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

func (l *cmdLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if !setup(cmd) {
				l.mu.Lock()
				l.cmds = append(l.cmds, []any{"pipeline"})
				l.mu.Unlock()
				break
			}
		}
		return next(ctx, cmds)
	}
}

// setup reports a command go-redis sends on its own: cluster topology and
// connection set-up, not an operation's.
func setup(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "cluster", "command", "readonly", "hello", "client", "ping", "auth", "select":
		return true
	}
	return false
}

func (l *cmdLog) take() [][]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.cmds
	l.cmds = nil
	return c
}

// declaredKeys returns the keys a command names: GET's key, or EVAL(SHA)'s
// KEYS.
func declaredKeys(args []any) []string {
	name := strings.ToLower(fmt.Sprint(args[0]))
	switch name {
	case "evalsha", "eval":
		n := 0
		fmt.Sscan(fmt.Sprint(args[2]), &n)
		keys := make([]string, 0, n)
		for _, k := range args[3 : 3+n] {
			keys = append(keys, fmt.Sprint(k))
		}
		return keys
	default:
		return []string{fmt.Sprint(args[1])}
	}
}

// hashTag is the part of a key Redis Cluster hashes: between the first
// '{' and the first '}' after it, when that is not empty.
func hashTag(key string) string {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return key
	}
	end := strings.IndexByte(key[open+1:], '}')
	if end <= 0 {
		return key
	}
	return key[open+1 : open+1+end]
}

// workload runs every operation once for user u on s, each as a named step.
func workload(t *testing.T, s sessions.Store, u string) []struct {
	name string
	run  func() error
} {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	tag := fmt.Sprint(time.Now().UnixNano())
	id := func(n string) string { return n + "-" + tag }
	return []struct {
		name string
		run  func() error
	}{
		{"Remember", func() error { return s.Remember(ctx, sessions.Session{ID: id("a"), UserID: u, ExpiresAt: exp}) }},
		{"IsActive", func() error { _, err := s.IsActive(ctx, u, id("a")); return err }},
		{"Rotate", func() error {
			_, err := s.Rotate(ctx, u, id("a"), sessions.Session{ID: id("b"), ExpiresAt: exp})
			return err
		}},
		{"Rotate within grace", func() error {
			_, err := s.Rotate(ctx, u, id("a"), sessions.Session{ID: id("c"), ExpiresAt: exp})
			return err
		}},
		{"ListForUser", func() error { _, err := s.ListForUser(ctx, u); return err }},
		{"Revoke", func() error { return s.Revoke(ctx, u, id("b")) }},
		{"Rotate reuse", func() error {
			_, err := s.Rotate(ctx, u, id("a"), sessions.Session{ID: id("d"), ExpiresAt: exp})
			if err == nil {
				return fmt.Errorf("reuse not detected")
			}
			return nil
		}},
		{"RevokeAllForUser", func() error { _, err := s.RevokeAllForUser(ctx, u); return err }},
	}
}

// TestRedisOneRoundTripPerOperation: every operation is one command, so
// one round trip, once the scripts are cached on the server; IsActive is
// a plain GET.
func TestRedisOneRoundTripPerOperation(t *testing.T) {
	r := redistest.New(t)
	c := r.NewClient(t)
	var log cmdLog
	log.watch(c)
	s := newRedisStore(t, c, sessions.WithKeyPrefix(r.Prefix), sessions.WithRotationGrace(time.Minute))

	const user = "u{1}:x"
	for _, step := range workload(t, s, user) { // load the scripts on the user's node
		require.NoError(t, step.run(), step.name)
	}
	log.take()
	for _, step := range workload(t, s, user) {
		require.NoError(t, step.run(), step.name)
		cmds := log.take()
		require.Len(t, cmds, 1, "%s sent %v", step.name, cmds)
		want := "evalsha"
		if step.name == "IsActive" {
			want = "get"
		}
		assert.Equal(t, want, strings.ToLower(fmt.Sprint(cmds[0][0])), step.name)
	}
}

// TestRedisKeysOfAnOperationShareASlot: every command's keys, and every key
// a user's operations leave, carry the user's hash tag; on a cluster the
// server agrees they share a slot (and no CROSSSLOT error came up).
func TestRedisKeysOfAnOperationShareASlot(t *testing.T) {
	r := redistest.New(t)
	c := r.NewClient(t)
	var log cmdLog
	log.watch(c)
	s := newRedisStore(t, c, sessions.WithKeyPrefix(r.Prefix), sessions.WithRotationGrace(time.Minute))
	ctx := context.Background()

	for _, user := range []string{"plain", "{a}:b", "a}{", "%7B"} {
		for _, step := range workload(t, s, user) {
			require.NoError(t, step.run(), step.name)
			for _, cmd := range log.take() {
				keys := declaredKeys(cmd)
				require.NotEmpty(t, keys)
				for _, k := range keys {
					assert.Equal(t, hashTag(keys[0]), hashTag(k), "%s: %v", step.name, keys)
					assert.NotEqual(t, k, hashTag(k), "%s: key %q has no hash tag", step.name, k)
				}
				assertOneSlot(t, r, keys)
			}
		}
		require.NoError(t, s.Remember(ctx, sessions.Session{ID: "left", UserID: user, ExpiresAt: time.Now().Add(time.Hour)}))
		_, err := s.Rotate(ctx, user, "left", sessions.Session{ID: "right", ExpiresAt: time.Now().Add(time.Hour)})
		require.NoError(t, err)
	}
	keys, err := r.Keys(ctx)
	require.NoError(t, err)
	byTag := map[string][]string{}
	for _, k := range keys {
		byTag[hashTag(k)] = append(byTag[hashTag(k)], k)
	}
	assert.Len(t, byTag, 4, "one hash tag per user: %v", keys)
	for _, ks := range byTag {
		assertOneSlot(t, r, ks)
	}
}

func assertOneSlot(t *testing.T, r *redistest.Redis, keys []string) {
	t.Helper()
	if r.Mode != redistest.Cluster {
		return
	}
	ctx := context.Background()
	first, err := r.Client.ClusterKeySlot(ctx, keys[0]).Result()
	require.NoError(t, err)
	for _, k := range keys[1:] {
		slot, err := r.Client.ClusterKeySlot(ctx, k).Result()
		require.NoError(t, err)
		assert.Equal(t, first, slot, "%q and %q", keys[0], k)
	}
}

// TestRedisKeyLayout pins the documented layout and value: the index
// prefix:{user}, the session prefix:{user}:jti, the tombstone
// prefix:{user}:rotated:jti, all expiring with their sessions; the value
// holds uid, fam, iat, exp (Unix ms) and meta.
func TestRedisKeyLayout(t *testing.T) {
	r := redistest.New(t)
	now := time.UnixMilli(time.Now().UnixMilli())
	s := newRedisStore(t, r.Client, sessions.WithKeyPrefix(r.Prefix), sessions.WithClock(func() time.Time { return now }))
	ctx := context.Background()
	exp1, exp2 := now.Add(time.Hour), now.Add(2*time.Hour)
	require.NoError(t, s.Remember(ctx, sessions.Session{ID: "s1", UserID: "alice", ExpiresAt: exp1,
		Meta: map[string]string{"ip": "192.0.2.1"}}))
	_, err := s.Rotate(ctx, "alice", "s1", sessions.Session{ID: "s2", ExpiresAt: exp2})
	require.NoError(t, err)

	p := r.Prefix
	want := map[string]time.Time{p + ":{alice}": exp2, p + ":{alice}:s2": exp2, p + ":{alice}:rotated:s1": exp1}
	keys, err := keysWithTTL(ctx, r)
	require.NoError(t, err)
	require.Len(t, keys, len(want), "%v", keys)
	for k, at := range want {
		require.Contains(t, keys, k)
		assert.InDelta(t, time.Until(at).Seconds(), keys[k].Seconds(), 5, "TTL of %s", k)
	}
	assert.Equal(t, sessions.IndexKey(p, "alice"), p+":{alice}")
	assert.Equal(t, sessions.TombstoneKey(p, "alice", "s1"), p+":{alice}:rotated:s1")

	raw, err := r.Client.Get(ctx, p+":{alice}:s2").Result()
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &v))
	assert.Equal(t, map[string]any{"uid": "alice", "fam": "s1", "iat": float64(now.UnixMilli()), "exp": float64(exp2.UnixMilli()),
		"meta": map[string]any{"ip": "192.0.2.1"}}, v, "the successor keeps s1's Meta")
	members, err := r.Client.ZRangeWithScores(ctx, p+":{alice}", 0, -1).Result()
	require.NoError(t, err)
	assert.Equal(t, []redis.Z{{Score: float64(exp2.UnixMilli()), Member: "s2"}}, members)
}

// TestRedisIsActiveAllocations measures IsActive's allocations against a
// bare GET of the same key through the same client: the difference is the
// key IsActive builds, nothing for decoding.
func TestRedisIsActiveAllocations(t *testing.T) {
	r := redistest.New(t)
	s := newRedisStore(t, r.Client, sessions.WithKeyPrefix(r.Prefix))
	ctx := context.Background()
	require.NoError(t, s.Remember(ctx, sessions.Session{ID: "s1", UserID: "u", ExpiresAt: time.Now().Add(time.Hour),
		Meta: map[string]string{"ip": "192.0.2.1", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"}}))
	key := sessions.SessionKey(r.Prefix, "u", "s1")

	get := testing.AllocsPerRun(500, func() { _, _ = r.Client.Get(ctx, key).Result() })
	active := testing.AllocsPerRun(500, func() {
		if ok, err := s.IsActive(ctx, "u", "s1"); !ok || err != nil {
			t.Fatalf("IsActive = %v, %v", ok, err)
		}
	})
	t.Logf("allocations per call: GET %.0f, IsActive %.0f", get, active)
	assert.LessOrEqual(t, active, get+1, "IsActive may add the key it builds, nothing more")
}

// TestRedisWrongTypeFailsClosed: a Redis error reply (here WRONGTYPE, a key
// some other program wrote) is a backend failure: false and ErrUnavailable.
func TestRedisWrongTypeFailsClosed(t *testing.T) {
	r := redistest.New(t)
	s := newRedisStore(t, r.Client, sessions.WithKeyPrefix(r.Prefix))
	ctx := context.Background()
	key := sessions.SessionKey(r.Prefix, "u", "s1")
	require.NoError(t, r.Client.RPush(ctx, key, "x").Err())
	require.NoError(t, r.Client.Expire(ctx, key, time.Hour).Err())
	ok, err := s.IsActive(ctx, "u", "s1")
	assert.False(t, ok)
	assert.ErrorIs(t, err, sessions.ErrUnavailable)
	assert.NotErrorIs(t, err, redis.Nil)
}

func TestNewRedisStoreRejectsBadInput(t *testing.T) {
	_, err := sessions.NewRedisStore(nil)
	assert.ErrorIs(t, err, sessions.ErrInvalid)
	// A nil pointer in the interface is not nil, and would panic on use.
	for name, c := range map[string]redis.UniversalClient{
		"*redis.Client":        (*redis.Client)(nil),
		"*redis.ClusterClient": (*redis.ClusterClient)(nil),
		"*redis.Ring":          (*redis.Ring)(nil),
	} {
		require.NotPanics(t, func() { _, err = sessions.NewRedisStore(c) }, name)
		assert.ErrorIs(t, err, sessions.ErrInvalid, name)
		assert.ErrorContains(t, err, "client", name)
	}
	// A Ring re-routes a down node's keys and back, undoing revocations.
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	t.Cleanup(func() { _ = ring.Close() })
	_, err = sessions.NewRedisStore(ring)
	assert.ErrorIs(t, err, sessions.ErrInvalid)
	assert.ErrorContains(t, err, "Ring")

	r := redistest.New(t)
	for name, opt := range map[string]sessions.Option{
		"WithKeyPrefix":          sessions.WithKeyPrefix("a:b"),
		"WithRotationGrace":      sessions.WithRotationGrace(-time.Second),
		"WithMaxSessionsPerUser": sessions.WithMaxSessionsPerUser(0),
		"WithLogger":             sessions.WithLogger(nil),
		"WithClock":              sessions.WithClock(nil),
		"WithObserver":           sessions.WithObserver(nil),
		// A typed nil passes an "obs == nil" check and panics at first use.
		"WithObserver typed nil": sessions.WithObserver(sessions.ObserverFunc(nil)),
	} {
		_, err := sessions.NewRedisStore(r.Client, opt)
		assert.ErrorIs(t, err, sessions.ErrInvalid, name)
		assert.Contains(t, err.Error(), strings.Fields(name)[0])
		_, err = sessions.NewMemoryStore(opt)
		assert.ErrorIs(t, err, sessions.ErrInvalid, name)
	}
}

// TestNewRedisStoreRefusesReplicaReads: a cluster client that sends reads
// to replicas could have IsActive find a session a replica has not yet
// seen revoked; the store refuses it and takes the same client reading
// from masters.
func TestNewRedisStoreRefusesReplicaReads(t *testing.T) {
	for name, o := range map[string]redis.ClusterOptions{
		"ReadOnly":       {ReadOnly: true},
		"RouteByLatency": {RouteByLatency: true},
		"RouteRandomly":  {RouteRandomly: true},
		"masters":        {},
	} {
		t.Run(name, func(t *testing.T) {
			o.Addrs = []string{"127.0.0.1:1"} // never dialled: the constructor does no I/O
			c := redis.NewClusterClient(&o)
			t.Cleanup(func() { _ = c.Close() })
			s, err := sessions.NewRedisStore(c)
			if name == "masters" {
				require.NoError(t, err)
				require.NotNil(t, s)
				return
			}
			require.ErrorIs(t, err, sessions.ErrInvalid)
			assert.ErrorContains(t, err, "client: reads from replicas")
		})
	}
}

// TestRedisFarExpiry: a session that expires in year 9999, a "never"
// some applications use, is remembered, rotated and its replay detected,
// on miniredis too, which overflows a TTL given as a length (PX) of more
// than 292 years: every expiry is sent as an instant (PXAT).
func TestRedisFarExpiry(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	s := newRedisStore(t, r.Client, sessions.WithKeyPrefix(r.Prefix))
	ctx := context.Background()
	never := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

	require.NoError(t, s.Remember(ctx, sessions.Session{ID: "a", UserID: "u", ExpiresAt: never}))
	active, err := s.IsActive(ctx, "u", "a")
	require.NoError(t, err)
	assert.True(t, active, "remembered")
	_, err = s.Rotate(ctx, "u", "a", sessions.Session{ID: "b", ExpiresAt: never})
	require.NoError(t, err)
	active, err = s.IsActive(ctx, "u", "b")
	require.NoError(t, err)
	assert.True(t, active, "rotated")
	_, err = s.Rotate(ctx, "u", "a", sessions.Session{ID: "c", ExpiresAt: never})
	require.ErrorIs(t, err, sessions.ErrReuseDetected, "the tombstone is there")
}
