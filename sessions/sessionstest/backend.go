package sessionstest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/sessions"
)

func testObserver(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	type step struct {
		do   func()
		want []sessions.Event
	}
	ev := func(typ sessions.EventType, n int) []sessions.Event { return []sessions.Event{{Type: typ, Count: n}} }
	steps := []step{
		{func() { e.remember(e.session("u", "a", time.Hour)) }, ev(sessions.EventRemembered, 0)},
		{func() { _, _ = e.rotate(e.s, "u", "a", "b", time.Hour) }, ev(sessions.EventRotated, 0)},
		{func() { _, _ = e.rotate(e.s, "u", "a", "x", time.Hour) }, ev(sessions.EventReuseDetected, 1)},
		{func() { _, _ = e.rotate(e.s, "u", "nope", "x", time.Hour) }, nil},
		{func() { e.remember(e.session("u", "c", time.Hour)) }, ev(sessions.EventRemembered, 0)},
		{func() { _ = e.s.Revoke(e.ctx, "u", "c") }, ev(sessions.EventRevoked, 1)},
		{func() { _ = e.s.Revoke(e.ctx, "u", "c") }, ev(sessions.EventRevoked, 0)},
		{func() { e.remember(e.session("u", "d", time.Hour)) }, ev(sessions.EventRemembered, 0)},
		{func() { _, _ = e.s.RevokeAllForUser(e.ctx, "u") }, ev(sessions.EventRevokedAll, 1)},
		{func() { _, _ = e.s.IsActive(e.ctx, "u", "d"); _, _ = e.s.ListForUser(e.ctx, "u") }, nil},
	}
	for i, s := range steps {
		s.do()
		assert.Equal(t, s.want, e.events.take(), "step %d", i)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.s.IsActive(ctx, "u", "d")
	got := e.events.take()
	require.Len(t, got, 1)
	assert.Equal(t, sessions.EventBackendError, got[0].Type)
	assert.ErrorIs(t, got[0].Err, sessions.ErrUnavailable)
	assert.Equal(t, err, got[0].Err)
}

// testLogsHoldNoTokenID drives every path that logs (reuse, eviction,
// corrupt values, failures) and checks that no token or family ID is in
// the output, only its hash.
func testLogsHoldNoTokenID(t *testing.T, nh NewHarness) {
	e := setup(t, nh, sessions.WithMaxSessionsPerUser(2))
	id := func(n int) string { return fmt.Sprintf("jti-Secret-%04d", n) }
	var used []string
	for n := range 5 {
		used = append(used, id(n))
	}
	e.remember(e.session("u", id(0), time.Hour))
	_, err := e.rotate(e.s, "u", id(0), id(1), time.Hour)
	require.NoError(t, err)
	_, err = e.rotate(e.s, "u", id(0), id(2), time.Hour)
	require.ErrorIs(t, err, sessions.ErrReuseDetected)
	for n := 2; n < 5; n++ { // the third evicts
		e.remember(e.session("u", id(n), time.Duration(n)*time.Hour))
	}
	if e.h.SetRaw != nil {
		require.NoError(t, e.h.SetRaw(e.ctx, "u", id(4), "{corrupt"))
		assert.False(t, e.active(e.s, "u", id(4)))
		e.list("u")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _ = e.s.IsActive(ctx, "u", id(3))
	_, _ = e.s.Rotate(ctx, "u", id(3), e.session("u", id(4), time.Hour))

	out := e.log.String()
	for _, id := range used {
		assert.NotContains(t, out, id, "a token ID in clear")
		assert.NotContains(t, out, strings.TrimPrefix(id, "jti-"))
	}
	// The reuse is reported at WARN with the hash of the ID.
	sum := sha256.Sum256([]byte(id(0)))
	assert.Contains(t, out, `"level":"WARN"`)
	assert.Contains(t, out, hex.EncodeToString(sum[:4]), "the reused ID's short hash")
}

func testCorruptValues(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	if e.h.SetRaw == nil {
		t.Skip("the harness has no SetRaw")
	}
	far := e.clk.Now().Add(time.Hour).UnixMilli()
	values := map[string]string{
		"garbage":     "not json at all",
		"empty":       "",
		"null":        "null",
		"array":       "[1,2,3]",
		"deep":        strings.Repeat("[", 5000),
		"truncated":   fmt.Sprintf(`{"uid":"u","fam":"f","iat":1,"exp":%d`, far),
		"other-user":  fmt.Sprintf(`{"uid":"v","fam":"f","iat":1,"exp":%d}`, far),
		"no-uid":      fmt.Sprintf(`{"fam":"f","iat":1,"exp":%d}`, far),
		"no-exp":      `{"uid":"u","fam":"f","iat":1}`,
		"no-fam":      fmt.Sprintf(`{"uid":"u","iat":1,"exp":%d}`, far),
		"string-exp":  fmt.Sprintf(`{"uid":"u","fam":"f","iat":1,"exp":"%d"}`, far),
		"fraction":    fmt.Sprintf(`{"uid":"u","fam":"f","iat":1,"exp":%d.5}`, far),
		"number-uid":  fmt.Sprintf(`{"uid":7,"fam":"f","iat":1,"exp":%d}`, far),
		"trailing":    fmt.Sprintf(`{"uid":"u","fam":"f","iat":1,"exp":%d}x`, far),
		"binary":      "\x00\xff\xfe{\"uid\":\"u\"}",
		"escaped-uid": fmt.Sprintf(`{"uid":"\u0076","fam":"f","iat":1,"exp":%d}`, far),
	}
	e.remember(e.session("u", "healthy", time.Hour))
	for id, raw := range values {
		e.remember(e.session("u", id, time.Hour))
		require.NoError(t, e.h.SetRaw(e.ctx, "u", id, raw), id)
	}
	for id := range values {
		assert.False(t, e.active(e.s, "u", id), "%s is never active", id)
	}
	assert.Equal(t, []string{"healthy"}, e.ids("u"), "ListForUser leaves corrupt values out")
	for id := range values {
		_, err := e.rotate(e.s, "u", id, id+"-next", time.Hour)
		assert.ErrorIs(t, err, sessions.ErrNotActive, id)
		assert.False(t, e.active(e.s, "u", id+"-next"), id)
	}
	require.NoError(t, e.s.Revoke(e.ctx, "u", "garbage"))
	n, err := e.s.RevokeAllForUser(e.ctx, "u")
	require.NoError(t, err)
	// The healthy session counts; a corrupt one may (Store.RevokeAllForUser:
	// the Redis store counts by expiry, without reading values), once.
	assert.GreaterOrEqual(t, n, 1, "the healthy session was active")
	assert.LessOrEqual(t, n, len(values), "each session counts once; the revoked garbage not at all")
	assert.Empty(t, e.ids("u"))
	assert.Contains(t, e.log.String(), `"level":"WARN"`, "corrupt values are reported")
}

// testNoKeyWithoutTTL runs a mixed workload and checks that every key it
// left has a TTL, and none outlives the longest session.
func testNoKeyWithoutTTL(t *testing.T, nh NewHarness) {
	e := setup(t, nh, sessions.WithMaxSessionsPerUser(3), sessions.WithRotationGrace(time.Second))
	if e.h.Keys == nil {
		t.Skip("the harness has no Keys")
	}
	for _, u := range []string{"u1", "u2", "{u3}"} {
		for i := range 4 { // the fourth evicts
			e.remember(e.session(u, fmt.Sprint("s", i), time.Duration(i+1)*time.Minute))
		}
		_, err := e.rotate(e.s, u, "s1", "r1", time.Hour)
		require.NoError(t, err)
		_, err = e.rotate(e.s, u, "s1", "r1-retry", time.Hour) // grace
		require.NoError(t, err)
		_, err = e.rotate(e.s, u, "r1", "r2", 2*time.Hour)
		require.NoError(t, err)
		_, err = e.rotate(e.s, u, "s1", "attack", time.Hour) // reuse
		require.ErrorIs(t, err, sessions.ErrReuseDetected)
		require.NoError(t, e.s.Revoke(e.ctx, u, "s2"))
		e.remember(e.session(u, "last", 90*time.Minute))
		_, err = e.s.ListForUser(e.ctx, u)
		require.NoError(t, err)
	}
	_, err := e.s.RevokeAllForUser(e.ctx, "u2")
	require.NoError(t, err)

	keys := e.keys()
	require.NotEmpty(t, keys)
	for k, ttl := range keys {
		assert.Greater(t, ttl, time.Duration(0), "key %q has no TTL", k)
		assert.LessOrEqual(t, ttl, 2*time.Hour+time.Second, "key %q outlives every session", k)
	}
}

// testNothingLeftAfterExpiry: once every session has expired, nothing is
// left, index included, but the tombstones of revoked sessions whose own
// expiry is still to come: memory stays proportional to live sessions and
// to those ended before their expiry.
func testNothingLeftAfterExpiry(t *testing.T, nh NewHarness) {
	e := setup(t, nh, sessions.WithRotationGrace(50*time.Millisecond))
	if e.h.Keys == nil {
		t.Skip("the harness has no Keys")
	}
	e.remember(e.session("u", "a", 200*time.Millisecond))
	e.remember(e.session("u", "b", 300*time.Millisecond))
	_, err := e.rotate(e.s, "u", "a", "a2", 250*time.Millisecond)
	require.NoError(t, err)
	e.remember(e.session("v", "c", 100*time.Millisecond))
	_, err = e.rotate(e.s, "v", "c", "c2", 300*time.Millisecond)
	require.NoError(t, err)
	_, err = e.rotate(e.s, "v", "c", "c3", 300*time.Millisecond)
	require.NoError(t, err, "grace")
	// A revoked session does not keep its user's index alive: the index
	// goes with the last session left, untouched from then on.
	e.remember(e.session("w", "short", 200*time.Millisecond))
	e.remember(e.session("w", "long", time.Hour))
	require.NoError(t, e.s.Revoke(e.ctx, "w", "long"))
	require.NotEmpty(t, e.keys())

	e.step(350 * time.Millisecond)
	// One more write, by a user without sessions: a store that purges on
	// writes has had its chance.
	_, err = e.s.RevokeAllForUser(e.ctx, "z")
	require.NoError(t, err)
	assert.Empty(t, e.list("u"))
	// Nothing is left but the tombstone of w's revoked session, which
	// lasts until that session's own expiry: not w's index, which went
	// with "short".
	left := e.keys()
	assert.Len(t, left, 1, "%v", keyNames(left))
	for k, ttl := range left {
		assert.Greater(t, ttl, 50*time.Minute, "%s: the revoked session's tombstone", k)
	}
}
