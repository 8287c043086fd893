package sessionstest

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/sessions"
)

// keySyntaxUsers are user IDs holding what a Redis key layout could
// stumble on: hash-tag braces, separators, escape characters.
var keySyntaxUsers = []string{
	"{", "}", ":", "{}", "}{", "{{", "a}", "a{b}c", "{a}:b", "%", "%7B", "%7D", "user:42", "ü{ß}:", "a b*?[",
}

func testUserIDsWithKeySyntax(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	for _, u := range keySyntaxUsers {
		e.remember(e.session(u, "s", time.Hour))
		e.remember(e.session(u, "t:{"+u+"}", 2*time.Hour))
	}
	for _, u := range keySyntaxUsers {
		assert.Equal(t, []string{"s", "t:{" + u + "}"}, e.ids(u), "user %q", u)
		next, err := e.rotate(e.s, u, "s", "s2", 3*time.Hour)
		require.NoError(t, err, "user %q", u)
		assert.Equal(t, "s", next.FamilyID)
		assert.True(t, e.active(e.s, u, "s2"), "user %q", u)
		require.NoError(t, e.s.Revoke(e.ctx, u, "t:{"+u+"}"))
		n, err := e.s.RevokeAllForUser(e.ctx, u)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "user %q: only s2 was left", u)
		_, err = e.rotate(e.s, u, "s", "s3", time.Hour)
		assert.ErrorIs(t, err, sessions.ErrReuseDetected, "user %q: the tombstone is found", u)
	}
}

// testKeysAreInjective: no two different (user, ID) pairs share storage,
// however their characters could line up in a key.
func testKeysAreInjective(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	pairs := [][2]string{
		{"a", "b}:x"}, {"a}:b", "x"}, // the example of the contract
		{"a", "}"}, {"a", "%7D"}, {"a", "%7d"},
		{"a:b", "c"}, {"a", "b:c"},
		{"a{", "x"}, {"a%7B", "x"},
		{"a", "x"}, {"a", "rotated:x"}, {"a", "rotated%3Ax"},
	}
	for _, p := range pairs {
		e.remember(e.session(p[0], p[1], time.Hour))
	}
	byUser := map[string][]string{}
	for _, p := range pairs {
		byUser[p[0]] = append(byUser[p[0]], p[1])
	}
	for u, ids := range byUser {
		slices.Sort(ids)
		assert.Equal(t, ids, e.ids(u), "user %q sees exactly their own sessions", u)
	}

	// A rotation's tombstone for (a, x) is not the session (a, rotated:x).
	_, err := e.rotate(e.s, "a", "x", "x2", time.Hour)
	require.NoError(t, err)
	assert.True(t, e.active(e.s, "a", "rotated:x"))
	_, err = e.rotate(e.s, "a", "rotated:x", "y2", time.Hour)
	require.NoError(t, err, "not mistaken for a rotated session")

	// Revoking each remaining pair ends that one only.
	var live [][2]string
	for _, p := range pairs {
		if p[0] != "a" || p[1] != "x" && p[1] != "rotated:x" {
			live = append(live, p)
		}
	}
	for i, p := range live {
		require.NoError(t, e.s.Revoke(e.ctx, p[0], p[1]))
		for j, q := range live {
			assert.Equal(t, j > i, e.active(e.s, q[0], q[1]), "after revoking %q, %q", p, q)
		}
	}
}

type badCase struct {
	name  string
	field string // the error must name it
	call  func(e *env) error
}

func badCases() []badCase {
	long := strings.Repeat("x", sessions.MaxIDLen+1)
	remember := func(name, field string, mod func(s *sessions.Session)) badCase {
		return badCase{name, field, func(e *env) error {
			s := e.session("u", "new", time.Hour)
			s.Meta = map[string]string{"ip": "192.0.2.1"}
			mod(&s)
			return e.s.Remember(e.ctx, s)
		}}
	}
	rotate := func(name, field, user, old string, mod func(s *sessions.Session)) badCase {
		return badCase{name, field, func(e *env) error {
			s := e.session("u", "new", time.Hour)
			mod(&s)
			_, err := e.s.Rotate(e.ctx, user, old, s)
			return err
		}}
	}
	isActive := func(name, field, user, id string) badCase {
		return badCase{name, field, func(e *env) error {
			ok, err := e.s.IsActive(e.ctx, user, id)
			if ok {
				return fmt.Errorf("IsActive returned true with %v", err)
			}
			return err
		}}
	}
	tooMany := map[string]string{}
	for i := range sessions.MaxMetaEntries + 1 {
		tooMany[fmt.Sprint("k", i)] = "v"
	}
	return []badCase{
		remember("empty ID", "ID", func(s *sessions.Session) { s.ID = "" }),
		remember("long ID", "ID", func(s *sessions.Session) { s.ID = long }),
		remember("NUL in ID", "ID", func(s *sessions.Session) { s.ID = "secret\x00id" }),
		remember("newline in ID", "ID", func(s *sessions.Session) { s.ID = "secret\nid" }),
		remember("DEL in ID", "ID", func(s *sessions.Session) { s.ID = "secret\x7f" }),
		remember("C1 control in ID", "ID", func(s *sessions.Session) { s.ID = "secret\u0085" }),
		remember("invalid UTF-8 ID", "ID", func(s *sessions.Session) { s.ID = "secret\xff" }),
		remember("empty UserID", "UserID", func(s *sessions.Session) { s.UserID = "" }),
		remember("long UserID", "UserID", func(s *sessions.Session) { s.UserID = long }),
		remember("tab in UserID", "UserID", func(s *sessions.Session) { s.UserID = "u\t" }),
		remember("control in FamilyID", "FamilyID", func(s *sessions.Session) { s.FamilyID = "f\r" }),
		remember("long FamilyID", "FamilyID", func(s *sessions.Session) { s.FamilyID = long }),
		remember("zero ExpiresAt", "ExpiresAt", func(s *sessions.Session) { s.ExpiresAt = time.Time{} }),
		remember("past ExpiresAt", "ExpiresAt", func(s *sessions.Session) { s.ExpiresAt = s.ExpiresAt.Add(-time.Hour - time.Millisecond) }),
		remember("ExpiresAt now", "ExpiresAt", func(s *sessions.Session) { s.ExpiresAt = s.ExpiresAt.Add(-time.Hour) }),
		remember("ExpiresAt within the current ms", "ExpiresAt", func(s *sessions.Session) {
			s.ExpiresAt = s.ExpiresAt.Add(-time.Hour + 500*time.Microsecond)
		}),
		remember("IssuedAt at ExpiresAt", "IssuedAt", func(s *sessions.Session) { s.IssuedAt = s.ExpiresAt }),
		remember("IssuedAt before 1970", "IssuedAt", func(s *sessions.Session) { s.IssuedAt = time.UnixMilli(-1) }),
		remember("IssuedAt in year 1", "IssuedAt", func(s *sessions.Session) { s.IssuedAt = time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC) }),
		// Times whose Unix milliseconds overflow int64 and wrap back to a
		// plausible value: a check on UnixMilli() alone lets them through.
		remember("ExpiresAt past year 292 million", "ExpiresAt", func(s *sessions.Session) { s.ExpiresAt = wrapped(s.ExpiresAt, 1) }),
		remember("ExpiresAt before year -292 million", "ExpiresAt", func(s *sessions.Session) { s.ExpiresAt = wrapped(s.ExpiresAt, -1) }),
		remember("IssuedAt past year 292 million", "IssuedAt", func(s *sessions.Session) {
			s.IssuedAt = wrapped(s.ExpiresAt.Add(-2*time.Hour), 1)
		}),
		remember("too many Meta entries", "Meta", func(s *sessions.Session) { s.Meta = tooMany }),
		remember("Meta too large", "Meta", func(s *sessions.Session) {
			s.Meta = map[string]string{"ua": strings.Repeat("m", sessions.MaxMetaBytes-1)}
		}),
		remember("empty Meta key", "Meta", func(s *sessions.Session) { s.Meta = map[string]string{"": "v"} }),
		remember("Meta key charset", "Meta", func(s *sessions.Session) { s.Meta = map[string]string{"user agent": "v"} }),
		remember("long Meta key", "Meta", func(s *sessions.Session) {
			s.Meta = map[string]string{strings.Repeat("k", sessions.MaxMetaKeyLen+1): "v"}
		}),
		remember("invalid UTF-8 Meta", "Meta", func(s *sessions.Session) { s.Meta = map[string]string{"ua": "\xc3"} }),
		isActive("IsActive empty userID", "userID", "", "old"),
		isActive("IsActive empty id", "id", "u", ""),
		isActive("IsActive long id", "id", "u", long),
		{"Revoke control userID", "userID", func(e *env) error { return e.s.Revoke(e.ctx, "u\x00", "old") }},
		{"Revoke empty id", "id", func(e *env) error { return e.s.Revoke(e.ctx, "u", "") }},
		{"RevokeAll empty userID", "userID", func(e *env) error { _, err := e.s.RevokeAllForUser(e.ctx, ""); return err }},
		{"List long userID", "userID", func(e *env) error { _, err := e.s.ListForUser(e.ctx, long); return err }},
		rotate("Rotate empty userID", "userID", "", "old", func(*sessions.Session) {}),
		rotate("Rotate control oldID", "oldID", "u", "old\n", func(*sessions.Session) {}),
		rotate("Rotate empty next.ID", "next.ID", "u", "old", func(s *sessions.Session) { s.ID = "" }),
		rotate("Rotate next of another user", "next.UserID", "u", "old", func(s *sessions.Session) { s.UserID = "v" }),
		rotate("Rotate next.ID is oldID", "next.ID", "u", "old", func(s *sessions.Session) { s.ID = "old" }),
		rotate("Rotate past next.ExpiresAt", "next.ExpiresAt", "u", "old", func(s *sessions.Session) { s.ExpiresAt = s.ExpiresAt.Add(-2 * time.Hour) }),
		rotate("Rotate zero next.ExpiresAt", "next.ExpiresAt", "u", "old", func(s *sessions.Session) { s.ExpiresAt = time.Time{} }),
		rotate("Rotate late next.IssuedAt", "next.IssuedAt", "u", "old", func(s *sessions.Session) { s.IssuedAt = s.ExpiresAt.Add(time.Second) }),
		rotate("Rotate next.IssuedAt before 1970", "next.IssuedAt", "u", "old", func(s *sessions.Session) { s.IssuedAt = time.Unix(-1, 0) }),
		rotate("Rotate next.ExpiresAt past year 292 million", "next.ExpiresAt", "u", "old", func(s *sessions.Session) {
			s.ExpiresAt = wrapped(s.ExpiresAt, 1)
		}),
		rotate("Rotate control next.FamilyID", "next.FamilyID", "u", "old", func(s *sessions.Session) { s.FamilyID = "\x01" }),
		rotate("Rotate other next.FamilyID", "next.FamilyID", "u", "old", func(s *sessions.Session) { s.FamilyID = "not-old" }),
		rotate("Rotate next.Meta too many", "next.Meta", "u", "old", func(s *sessions.Session) { s.Meta = tooMany }),
	}
}

// wrapped returns the time 2^64 ms after t (sign 1) or before it (sign
// -1), some 292 million years away: its UnixMilli() overflows int64 and
// wraps back to exactly t's.
func wrapped(t time.Time, sign int64) time.Time {
	ms := new(big.Int).Lsh(big.NewInt(sign), 64)
	ms.Add(ms, big.NewInt(t.UnixMilli()))
	sec, rem := new(big.Int).DivMod(ms, big.NewInt(1000), new(big.Int))
	return time.Unix(sec.Int64(), rem.Int64()*int64(time.Millisecond))
}

func testBadInput(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	if w := wrapped(e.clk.Now(), 1); w.UnixMilli() != e.clk.Now().UnixMilli() || w.Year() < 290_000_000 {
		t.Fatalf("wrapped: %v (UnixMilli %d) does not wrap to now", w, w.UnixMilli())
	}
	e.remember(e.session("u", "old", time.Hour))
	keysBefore := keyNames(e.keys())

	for _, tc := range badCases() {
		err := tc.call(e)
		require.ErrorIs(t, err, sessions.ErrInvalid, tc.name)
		detail := strings.TrimPrefix(err.Error(), sessions.ErrInvalid.Error()+": ")
		assert.True(t, strings.HasPrefix(detail, tc.field+":"), "%s: %q does not start with the field %s", tc.name, err, tc.field)
		assert.NotContains(t, err.Error(), "secret", "%s: the message holds no ID", tc.name)
	}
	// Nothing was written, nothing changed.
	assert.Equal(t, []string{"old"}, e.ids("u"))
	assert.True(t, e.active(e.s, "u", "old"))
	assert.Equal(t, keysBefore, keyNames(e.keys()))
	assert.Zero(t, e.events.count(sessions.EventBackendError))

	// The limits themselves are accepted.
	atLimit := e.session(strings.Repeat("u", sessions.MaxIDLen), strings.Repeat("i", sessions.MaxIDLen), time.Hour)
	atLimit.FamilyID = strings.Repeat("f", sessions.MaxIDLen)
	atLimit.IssuedAt = e.clk.Now()
	atLimit.Meta = map[string]string{}
	for i := range sessions.MaxMetaEntries - 1 {
		atLimit.Meta[fmt.Sprintf("k%02d", i)] = "v"
	}
	atLimit.Meta["big"] = strings.Repeat("m", sessions.MaxMetaBytes-(sessions.MaxMetaEntries-1)*4-3)
	e.remember(atLimit)
	assertSession(t, atLimit, e.list(atLimit.UserID)[0])
	e.remember(e.session("ü\u00a0\ufffd", "\ufffd-ok", time.Hour))
	assert.True(t, e.active(e.s, "ü\u00a0\ufffd", "\ufffd-ok"))

	// IssuedAt at the Unix epoch, and in the future (an issuer whose
	// clock runs ahead): accepted, kept, and no bearing on activity.
	for _, iat := range []time.Time{time.Unix(0, 0).UTC(), e.clk.Now().Add(30 * time.Minute)} {
		s := e.session("iat", fmt.Sprint("iat-", iat.UnixMilli()), time.Hour)
		s.IssuedAt = iat
		e.remember(s)
		s.FamilyID = s.ID
		assert.True(t, e.active(e.s, "iat", s.ID), "IssuedAt %s", iat)
		list := e.list("iat")
		require.NotEmpty(t, list)
		assertSession(t, s, list[len(list)-1])
	}
}

func keyNames(keys map[string]time.Duration) []string {
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// testContextEnded: a cancelled or expired context fails every method
// with ErrUnavailable (IsActive false), and writes nothing.
func testContextEnded(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	e.remember(e.session("u", "s1", time.Hour))
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()

	for name, ctx := range map[string]context.Context{"canceled": canceled, "expired": expired} {
		ok, err := e.s.IsActive(ctx, "u", "s1")
		assert.False(t, ok, name)
		assert.ErrorIs(t, err, sessions.ErrUnavailable, name)
		assert.ErrorIs(t, e.s.Remember(ctx, e.session("u", "s2", time.Hour)), sessions.ErrUnavailable, name)
		assert.ErrorIs(t, e.s.Revoke(ctx, "u", "s1"), sessions.ErrUnavailable, name)
		_, err = e.s.RevokeAllForUser(ctx, "u")
		assert.ErrorIs(t, err, sessions.ErrUnavailable, name)
		_, err = e.s.Rotate(ctx, "u", "s1", e.session("u", "s3", time.Hour))
		assert.ErrorIs(t, err, sessions.ErrUnavailable, name)
		_, err = e.s.ListForUser(ctx, "u")
		assert.ErrorIs(t, err, sessions.ErrUnavailable, name)
	}
	assert.Equal(t, []string{"s1"}, e.ids("u"), "nothing written, nothing revoked")
	assert.Equal(t, 12, e.events.count(sessions.EventBackendError))
}
