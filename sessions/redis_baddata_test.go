package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/sessions"
)

// Bad data: values under the store's keys that it did not write. Whatever
// is there, no method panics, IsActive is never true for the damaged
// session, Rotate never builds a successor on it, and errors are the
// package's own (a Redis error reply is ErrUnavailable, naming the cause).

// badDataStore returns a store on a fresh prefix with one good session of
// user "u" ("good") and the raw value Remember wrote for another ("s1").
func badDataStore(t *testing.T) (*redistest.Redis, *sessions.RedisStore, string) {
	t.Helper()
	r := redistest.New(t)
	s := newRedisStore(t, r.Client, sessions.WithKeyPrefix(r.Prefix))
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for _, id := range []string{"good", "s1"} {
		require.NoError(t, s.Remember(ctx, sessions.Session{ID: id, UserID: "u", ExpiresAt: exp}))
	}
	raw, err := r.Client.Get(ctx, sessions.SessionKey(r.Prefix, "u", "s1")).Result()
	require.NoError(t, err)
	return r, s, raw
}

// checkDamaged runs every method against the damaged session s1 of user
// "u" and checks what no bad value may cause.
func checkDamaged(t *testing.T, s sessions.Store, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	exp := time.Now().Add(time.Hour)
	ours := func(err error) bool {
		for _, e := range []error{sessions.ErrUnavailable, sessions.ErrNotActive, sessions.ErrReuseDetected} {
			if errors.Is(err, e) {
				return true
			}
		}
		return false
	}

	ok, err := s.IsActive(ctx, "u", "s1")
	assert.False(t, ok, "%s: IsActive true", what)
	if err != nil {
		assert.ErrorIs(t, err, sessions.ErrUnavailable, "%s: IsActive", what)
	}

	list, err := s.ListForUser(ctx, "u")
	if err == nil {
		for _, x := range list {
			assert.NotEqual(t, "s1", x.ID, "%s: ListForUser lists the damaged session", what)
		}
	} else {
		assert.ErrorIs(t, err, sessions.ErrUnavailable, "%s: ListForUser", what)
	}

	next := fmt.Sprintf("s1-next-%d", time.Now().UnixNano())
	got, err := s.Rotate(ctx, "u", "s1", sessions.Session{ID: next, ExpiresAt: exp})
	assert.Error(t, err, "%s: Rotate built successor %+v on a damaged session", what, got)
	assert.True(t, ours(err), "%s: Rotate error %v is not the package's", what, err)
	ok, _ = s.IsActive(ctx, "u", next)
	assert.False(t, ok, "%s: Rotate's successor is active", what)

	err = s.Revoke(ctx, "u", "s1")
	if err != nil {
		assert.ErrorIs(t, err, sessions.ErrUnavailable, "%s: Revoke", what)
	}
	ok, _ = s.IsActive(ctx, "u", "s1")
	assert.False(t, ok, "%s: IsActive true after Revoke", what)
}

func TestRedisBadDataTruncatedValues(t *testing.T) {
	r, s, raw := badDataStore(t)
	ctx := context.Background()
	key := sessions.SessionKey(r.Prefix, "u", "s1")
	for n := 0; n < len(raw); n++ {
		require.NoError(t, r.Client.Set(ctx, key, raw[:n], time.Hour).Err())
		ok, err := s.IsActive(ctx, "u", "s1")
		require.NoError(t, err)
		require.False(t, ok, "IsActive true for %q", raw[:n])
		list, err := s.ListForUser(ctx, "u")
		require.NoError(t, err)
		require.Len(t, list, 1, "ListForUser with %q", raw[:n])
		assert.Equal(t, "good", list[0].ID)
	}
	// One full pass of every method on a value cut in the middle.
	require.NoError(t, r.Client.Set(ctx, key, raw[:len(raw)/2], time.Hour).Err())
	checkDamaged(t, s, "truncated")
	ok, err := s.IsActive(ctx, "u", "good")
	require.NoError(t, err)
	assert.True(t, ok, "the good session beside the damaged one")
}

// TestRedisBadDataForeignValues: JSON that is not quite a session value,
// much of it what a lenient JSON reader (Redis's cjson) would take: every
// method, the scripts' Lua decoder included, must agree that the session
// is not active (TestLuaDecodeAgreesWithGo compares the decoders on many
// more values).
func TestRedisBadDataForeignValues(t *testing.T) {
	far := time.Now().Add(time.Hour).UnixMilli()
	values := map[string]string{
		"not JSON":           "hello",
		"JSON array":         `["u","f",1,` + fmt.Sprint(far) + `]`,
		"JSON string":        `"u"`,
		"empty object":       `{}`,
		"other user":         fmt.Sprintf(`{"uid":"v","fam":"f","iat":1,"exp":%d}`, far),
		"uid twice":          fmt.Sprintf(`{"uid":"v","uid":"u","fam":"f","iat":1,"exp":%d}`, far),
		"exp as string":      fmt.Sprintf(`{"uid":"u","fam":"f","iat":1,"exp":"%d"}`, far),
		"exp with exponent":  fmt.Sprintf(`{"uid":"u","fam":"f","iat":1,"exp":%de0}`, far),
		"iat fraction":       fmt.Sprintf(`{"uid":"u","fam":"f","iat":1.5,"exp":%d}`, far),
		"exp fraction":       fmt.Sprintf(`{"uid":"u","fam":"f","iat":1,"exp":%d.5}`, far),
		"fam missing":        fmt.Sprintf(`{"uid":"u","iat":1,"exp":%d}`, far),
		"fam number":         fmt.Sprintf(`{"uid":"u","fam":7,"iat":1,"exp":%d}`, far),
		"meta number":        fmt.Sprintf(`{"uid":"u","fam":"f","iat":1,"exp":%d,"meta":5}`, far),
		"meta nested":        fmt.Sprintf(`{"uid":"u","fam":"f","iat":1,"exp":%d,"meta":{"a":{"b":"c"}}}`, far),
		"deep nesting":       fmt.Sprintf(`{"x":%s1%s,"uid":"u","fam":"f","iat":1,"exp":%d}`, strings.Repeat("[", 500), strings.Repeat("]", 500), far),
		"trailing garbage":   fmt.Sprintf(`{"uid":"u","fam":"f","iat":1,"exp":%d}x`, far),
		"binary":             "\x00\xff\xfe{",
		"huge":               strings.Repeat("a", 1<<20),
		"raw tab in meta":    fmt.Sprintf(`{"uid":"u","fam":"f","iat":1,"exp":%d,"meta":{"a":"x`+"\t"+`y"}}`, far),
		"raw newline in fam": fmt.Sprintf(`{"uid":"u","fam":"f`+"\n"+`","iat":1,"exp":%d}`, far),
		"escaped meta key":   fmt.Sprintf(`{"uid":"u","fam":"f","iat":1,"exp":%d,"meta":{"\u0061":"x"}}`, far),
		"meta array":         fmt.Sprintf(`{"uid":"u","fam":"f","iat":1,"exp":%d,"meta":[]}`, far),
		"leading zero":       fmt.Sprintf(`{"uid":"u","fam":"f","iat":01,"exp":%d}`, far),
		"hex number":         `{"uid":"u","fam":"f","iat":1,"exp":0x7fffffffffff}`,
		"text after NUL":     fmt.Sprintf(`{"uid":"u","fam":"f","iat":1,"exp":%d}`+"\x00garbage", far),
		"lone surrogate":     fmt.Sprintf(`{"uid":"u","fam":"\udc00","iat":1,"exp":%d}`, far),
		"invalid UTF-8":      fmt.Sprintf(`{"uid":"u","fam":"`+"\xff"+`","iat":1,"exp":%d}`, far),
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			r, s, _ := badDataStore(t)
			ctx := context.Background()
			require.NoError(t, r.Client.Set(ctx, sessions.SessionKey(r.Prefix, "u", "s1"), v, time.Hour).Err())
			checkDamaged(t, s, name)
		})
	}
}

// TestRedisBadDataWrongTypes: another program wrote a hash, list, set or
// sorted set (or a string) where the store keeps something else. Redis
// answers WRONGTYPE: that is a backend failure, reported as ErrUnavailable
// with the cause, and IsActive stays false.
func TestRedisBadDataWrongTypes(t *testing.T) {
	// Per type: a command that leaves a value of that type at a key.
	writers := map[string][]any{
		"hash":   {"HSET", "uid", "u"},
		"list":   {"RPUSH", "u"},
		"set":    {"SADD", "s1"},
		"zset":   {"ZADD", 1, "s1"},
		"string": {"SET", "garbage"},
	}
	keys := map[string]func(prefix string) string{
		"session":   func(p string) string { return sessions.SessionKey(p, "u", "s1") },
		"index":     func(p string) string { return sessions.IndexKey(p, "u") },
		"tombstone": func(p string) string { return sessions.TombstoneKey(p, "u", "s1") },
	}
	for kname, key := range keys {
		for wname, cmd := range writers {
			if (kname == "session" || kname == "tombstone") && wname == "string" ||
				kname == "index" && wname == "zset" {
				continue // the right type: covered by the value tests
			}
			t.Run(kname+" as "+wname, func(t *testing.T) {
				r, s, _ := badDataStore(t)
				ctx := context.Background()
				// s1 ends first, so that whatever the damage, it must
				// stay inactive.
				require.NoError(t, s.Revoke(ctx, "u", "s1"))
				k := key(r.Prefix)
				require.NoError(t, r.Client.Del(ctx, k).Err())
				require.NoError(t, r.Client.Do(ctx, append([]any{cmd[0], k}, cmd[1:]...)...).Err())
				require.NoError(t, r.Client.Expire(ctx, k, time.Hour).Err())
				checkDamaged(t, s, kname+" as "+wname)
				if kname == "session" {
					_, err := s.IsActive(ctx, "u", "s1")
					require.ErrorIs(t, err, sessions.ErrUnavailable)
					assert.Contains(t, err.Error(), "WRONGTYPE", "the error names the cause")
				}
			})
		}
	}
}

// TestRedisBadDataWalksDoNotDecode: the scripts that walk all of a user's
// sessions judge no value with the strict decoder, which costs up to a
// millisecond a value (a second of blocked Redis for 1,000 sessions;
// BenchmarkRevokeFamily1000). Reuse detection revokes by the family's
// canonical prefix, so a value the decoder refuses but that starts with
// that prefix goes with its family, and one of another family stays;
// RevokeAllForUser counts by index score, so such a value counts as its
// score says. Before, both walks decoded each value and passed these by.
func TestRedisBadDataWalksDoNotDecode(t *testing.T) {
	r := redistest.New(t)
	s := newRedisStore(t, r.Client, sessions.WithKeyPrefix(r.Prefix))
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	require.NoError(t, s.Remember(ctx, sessions.Session{ID: "root", UserID: "u", ExpiresAt: exp}))
	_, err := s.Rotate(ctx, "u", "root", sessions.Session{ID: "child", ExpiresAt: exp})
	require.NoError(t, err)

	// Canonical prefixes, then a raw tab in meta, which the decoder refuses.
	index := sessions.IndexKey(r.Prefix, "u")
	for id, fam := range map[string]string{"odd": "root", "other": "else"} {
		v := fmt.Sprintf(`{"uid":"u","fam":%q,"iat":1,"exp":%d,"meta":{"a":"x`+"\t"+`y"}}`, fam, exp.UnixMilli())
		key := sessions.SessionKey(r.Prefix, "u", id)
		require.NoError(t, r.Client.Set(ctx, key, v, time.Hour).Err())
		member := strings.TrimPrefix(key, index+":")
		require.NoError(t, r.Client.ZAdd(ctx, index, redis.Z{Score: float64(exp.UnixMilli()), Member: member}).Err())
		ok, err := s.IsActive(ctx, "u", id)
		require.NoError(t, err)
		require.False(t, ok, "%s: the strict decoder refuses it", id)
	}

	_, err = s.Rotate(ctx, "u", "root", sessions.Session{ID: "again", ExpiresAt: exp})
	require.ErrorIs(t, err, sessions.ErrReuseDetected)
	for id, want := range map[string]int64{"odd": 0, "child": 0, "other": 1} {
		n, err := r.Client.Exists(ctx, sessions.SessionKey(r.Prefix, "u", id)).Result()
		require.NoError(t, err)
		assert.Equal(t, want, n, "%s: revoked with family root (0) or left (1)", id)
	}

	n, err := s.RevokeAllForUser(ctx, "u")
	require.NoError(t, err)
	assert.Equal(t, 1, n, `"other" counts by its index score, undecoded`)
	keys, err := r.Keys(ctx)
	require.NoError(t, err)
	var want []string
	for _, id := range []string{"child", "odd", "other", "root"} {
		want = append(want, sessions.TombstoneKey(r.Prefix, "u", id))
	}
	slices.Sort(keys)
	assert.Equal(t, want, keys, "only tombstones are left: root's rotation's, and the revocations of the three sessions ended")
}

// TestRedisBadDataIndexMembers: index members the store did not write (a
// stray '%', a ':' it would have escaped, a member with no session key) are
// left out of ListForUser and do not stop RevokeAllForUser.
func TestRedisBadDataIndexMembers(t *testing.T) {
	r, s, _ := badDataStore(t)
	ctx := context.Background()
	far := float64(time.Now().Add(time.Hour).UnixMilli())
	index := sessions.IndexKey(r.Prefix, "u")
	for _, m := range []string{"%", "%zz", "a:b", "{x}", "", "no-such-session", strings.Repeat("m", 300)} {
		require.NoError(t, r.Client.ZAdd(ctx, index, redis.Z{Score: far, Member: m}).Err())
	}
	list, err := s.ListForUser(ctx, "u")
	require.NoError(t, err)
	var ids []string
	for _, x := range list {
		ids = append(ids, x.ID)
	}
	assert.ElementsMatch(t, []string{"good", "s1"}, ids)

	n, err := s.RevokeAllForUser(ctx, "u")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	for _, id := range []string{"good", "s1"} {
		ok, err := s.IsActive(ctx, "u", id)
		require.NoError(t, err)
		assert.False(t, ok, id)
	}
}

// TestRedisBadDataTombstones: a rotated session's tombstone that is not
// what Rotate wrote makes presenting the old ID an error, never a new
// session.
func TestRedisBadDataTombstones(t *testing.T) {
	far := time.Now().Add(time.Hour).UnixMilli()
	for name, v := range map[string]string{
		"not JSON":        "x",
		"truncated":       `{"next":"s2","at":"1",`,
		"next not string": fmt.Sprintf(`{"next":5,"at":"1","exp":"%d","fam":"s1"}`, far),
		"exp not number":  `{"next":"s2","at":"1","exp":"soon","fam":"s1"}`,
		"next elsewhere":  fmt.Sprintf(`{"next":"../../x","at":"1","exp":"%d","fam":"s1"}`, far),
	} {
		t.Run(name, func(t *testing.T) {
			r, s, _ := badDataStore(t)
			ctx := context.Background()
			exp := time.Now().Add(time.Hour)
			_, err := s.Rotate(ctx, "u", "s1", sessions.Session{ID: "s2", ExpiresAt: exp})
			require.NoError(t, err)
			require.NoError(t, r.Client.Set(ctx, sessions.TombstoneKey(r.Prefix, "u", "s1"), v, time.Hour).Err())
			got, err := s.Rotate(ctx, "u", "s1", sessions.Session{ID: "s3", ExpiresAt: exp})
			require.Error(t, err, "Rotate on a damaged tombstone returned %+v", got)
			ok, _ := s.IsActive(ctx, "u", "s3")
			assert.False(t, ok)
			ok, _ = s.IsActive(ctx, "u", "s1")
			assert.False(t, ok)
		})
	}
}
