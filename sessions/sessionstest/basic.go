package sessionstest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/sessions"
)

func testRememberAndIsActive(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	e.remember(e.session("alice", "a1", time.Hour))

	assert.True(t, e.active(e.s, "alice", "a1"))
	assert.False(t, e.active(e.s, "alice", "unknown"), "unknown ID")
	assert.False(t, e.active(e.s, "bob", "a1"), "another user's ID")

	// Remembering the same ID again replaces it.
	s := e.session("alice", "a1", 2*time.Hour)
	s.Meta = map[string]string{"device": "phone"}
	e.remember(s)
	list := e.list("alice")
	require.Len(t, list, 1)
	assert.Equal(t, map[string]string{"device": "phone"}, list[0].Meta)
	assert.True(t, list[0].ExpiresAt.Equal(s.ExpiresAt))
}

func testExpiryIsExact(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	exp := e.clk.Now().Add(time.Hour)
	e.remember(sessions.Session{ID: "s1", UserID: "u", ExpiresAt: exp})
	// A sub-millisecond expiry is stored truncated: never later than asked.
	e.remember(sessions.Session{ID: "s2", UserID: "u", ExpiresAt: exp.Add(time.Hour + 700*time.Microsecond)})
	exp2 := exp.Add(time.Hour)

	e.clk.Set(exp.Add(-time.Millisecond))
	assert.True(t, e.active(e.s, "u", "s1"), "active 1ms before ExpiresAt")
	assert.Equal(t, []string{"s1", "s2"}, e.ids("u"))

	e.clk.Set(exp)
	assert.False(t, e.active(e.s, "u", "s1"), "inactive at ExpiresAt")
	assert.Equal(t, []string{"s2"}, e.ids("u"))
	_, err := e.rotate(e.s, "u", "s1", "s1-next", time.Hour)
	assert.ErrorIs(t, err, sessions.ErrNotActive)
	assert.NoError(t, e.s.Revoke(e.ctx, "u", "s1"))

	e.clk.Set(exp2.Add(-time.Millisecond))
	assert.True(t, e.active(e.s, "u", "s2"))
	e.clk.Set(exp2)
	assert.False(t, e.active(e.s, "u", "s2"), "inactive from the truncated millisecond")
	assert.Empty(t, e.list("u"))
	n, err := e.s.RevokeAllForUser(e.ctx, "u")
	require.NoError(t, err)
	assert.Zero(t, n, "expired sessions are not counted as revoked")
}

func testRevokeIsIdempotent(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	e.remember(e.session("u", "s1", time.Hour))
	e.remember(e.session("u", "s2", time.Hour))
	e.remember(e.session("other", "o1", time.Hour))

	require.NoError(t, e.s.Revoke(e.ctx, "u", "s1"))
	assert.False(t, e.active(e.s, "u", "s1"))
	assert.True(t, e.active(e.s, "u", "s2"), "only the one revoked")
	require.NoError(t, e.s.Revoke(e.ctx, "u", "s1"), "already revoked")
	require.NoError(t, e.s.Revoke(e.ctx, "u", "never-existed"), "unknown")
	require.NoError(t, e.s.Revoke(e.ctx, "u", "o1"), "another user's ID")
	assert.True(t, e.active(e.s, "other", "o1"), "another user's session is untouched")

	// Revoking a user's every session leaves nothing of theirs behind but
	// one tombstone per session revoked, which lasts until that session's
	// own expiry (Store.Revoke).
	before := e.keys()
	e.remember(e.session("w", "w1", time.Hour))
	e.remember(e.session("w", "w2", 2*time.Hour))
	require.NoError(t, e.s.Revoke(e.ctx, "w", "w2"))
	require.NoError(t, e.s.Revoke(e.ctx, "w", "w1"))
	if added := e.keys(); added != nil {
		for k := range before {
			delete(added, k)
		}
		assert.Len(t, added, 2, "one tombstone per session revoked: %v", keyNames(added))
		for k, ttl := range added {
			assert.Greater(t, ttl, 59*time.Minute, k)
			assert.LessOrEqual(t, ttl, 2*time.Hour+time.Second, "%s outlives its session", k)
		}
	}

	// An expired one.
	e.remember(e.session("u", "short", time.Minute))
	e.clk.Add(2 * time.Minute)
	require.NoError(t, e.s.Revoke(e.ctx, "u", "short"))
	assert.Equal(t, []string{"s2"}, e.ids("u"))
}

// testRevokeRotatedEndsFamily: revoking a rotated ID (a logout with a
// spent refresh token) ends the login it belongs to, on every instance:
// the session it was rotated into and the rest of its family, not other
// logins or users. Rotate with the ID is still reuse afterwards. Once the
// rotated ID's own expiry has passed, revoking it changes nothing.
func testRevokeRotatedEndsFamily(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	e.remember(e.session("u", "a1", time.Hour))
	member := e.session("u", "a-sibling", time.Hour) // same family, named
	member.FamilyID = "a1"
	e.remember(member)
	e.remember(e.session("u", "other-login", time.Hour))
	e.remember(e.session("v", "a1", time.Hour)) // another user's ID a1
	_, err := e.rotate(e.s, "u", "a1", "a2", time.Hour)
	require.NoError(t, err)
	_, err = e.rotate(e.s, "u", "a2", "a3", time.Hour)
	require.NoError(t, err)
	e.events.take()

	require.NoError(t, e.instance().Revoke(e.ctx, "u", "a1"), "two rotations back")
	for _, id := range []string{"a3", "a-sibling"} {
		assert.False(t, e.active(e.s, "u", id), "%s: the login is over", id)
	}
	assert.Equal(t, []string{"other-login"}, e.ids("u"), "other logins live on")
	assert.True(t, e.active(e.s, "v", "a1"), "other users live on")
	assert.Equal(t, []sessions.Event{{Type: sessions.EventRevoked, Count: 2}}, e.events.take())
	_, err = e.rotate(e.s, "u", "a2", "x", time.Hour)
	assert.ErrorIs(t, err, sessions.ErrReuseDetected, "the rotated ID is still reuse")
	require.NoError(t, e.s.Revoke(e.ctx, "u", "a2"), "again: nothing left to end")
	assert.Equal(t, []string{"other-login"}, e.ids("u"))

	// A rotated ID whose own expiry has passed is gone: revoking it changes
	// nothing, even if its successor lives on.
	e.remember(e.session("u", "b1", time.Minute))
	_, err = e.rotate(e.s, "u", "b1", "b2", time.Hour)
	require.NoError(t, err)
	e.clk.Add(2 * time.Minute)
	require.NoError(t, e.s.Revoke(e.ctx, "u", "b1"))
	assert.True(t, e.active(e.s, "u", "b2"))
}

func testRevokeAllForUser(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	e.remember(e.session("u", "expiring", time.Minute))
	e.remember(e.session("u", "s1", time.Hour))
	e.remember(e.session("u", "s2", 2*time.Hour))
	_, err := e.rotate(e.s, "u", "s2", "s2b", time.Hour)
	require.NoError(t, err)
	e.remember(e.session("v", "v1", time.Hour))
	e.clk.Add(2 * time.Minute)

	other := e.instance()
	n, err := other.RevokeAllForUser(e.ctx, "u")
	require.NoError(t, err)
	assert.Equal(t, 2, n, "s1 and s2b were active; the expired one is not counted")
	for _, id := range []string{"expiring", "s1", "s2", "s2b"} {
		assert.False(t, e.active(e.s, "u", id), id)
	}
	assert.Empty(t, e.list("u"))
	assert.True(t, e.active(e.s, "v", "v1"), "other users are untouched")

	n, err = e.s.RevokeAllForUser(e.ctx, "u")
	require.NoError(t, err)
	assert.Zero(t, n)
	n, err = e.s.RevokeAllForUser(e.ctx, "nobody")
	require.NoError(t, err)
	assert.Zero(t, n)
}

// testRememberRefusesARevokedID: a revoked ID is spent until its session's
// own expiry, as a rotated one is: Remember refuses it (ErrInvalid, nothing
// written) on every instance, and Rotate refuses it for a successor. So a
// Remember that reaches the backend late (a client's first attempt,
// delayed on the way, after the retry that succeeded and a revocation
// that followed) cannot undo the revocation. This holds for Revoke, for
// RevokeAllForUser and for a family revoked by reuse detection; new IDs of
// the same user, and the same ID of another user, are unaffected.
func testRememberRefusesARevokedID(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	refused := func(s sessions.Session, why string) {
		t.Helper()
		err := e.instance().Remember(e.ctx, s)
		require.ErrorIs(t, err, sessions.ErrInvalid, why)
		assert.Contains(t, err.Error(), "ID: revoked", why)
		assert.False(t, e.active(e.s, s.UserID, s.ID), "%s: nothing written", why)
	}

	// Revoke.
	a := e.session("u", "a", time.Hour)
	e.remember(a)
	require.NoError(t, e.s.Revoke(e.ctx, "u", "a"))
	refused(a, "the revoked session again")
	refused(e.session("u", "a", 3*time.Hour), "a later expiry")
	require.NoError(t, e.s.Revoke(e.ctx, "u", "a"), "revoking again is still nothing")
	refused(a, "after a second Revoke")
	_, err := e.rotate(e.s, "u", "a", "a2", time.Hour)
	assert.ErrorIs(t, err, sessions.ErrNotActive, "a revoked ID is not active, and not reuse")

	// RevokeAllForUser.
	for _, id := range []string{"b", "c", "d"} {
		e.remember(e.session("u", id, 2*time.Hour))
	}
	n, err := e.s.RevokeAllForUser(e.ctx, "u")
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	for _, id := range []string{"b", "c", "d"} {
		refused(e.session("u", id, 2*time.Hour), id+", revoked by RevokeAllForUser")
	}
	e.remember(e.session("u", "fresh", time.Hour))
	assert.True(t, e.active(e.instance(), "u", "fresh"), "a new ID of the same user")
	e.remember(e.session("v", "b", time.Hour))
	assert.True(t, e.active(e.s, "v", "b"), "the same ID of another user")
	_, err = e.rotate(e.s, "u", "fresh", "b", time.Hour)
	require.ErrorIs(t, err, sessions.ErrInvalid, "a revoked ID as a successor")
	assert.Contains(t, err.Error(), "next.ID")
	assert.True(t, e.active(e.s, "u", "fresh"), "the refused Rotate changed nothing")

	// A family revoked by reuse detection.
	_, err = e.rotate(e.s, "u", "fresh", "fresh2", time.Hour)
	require.NoError(t, err)
	_, err = e.rotate(e.s, "u", "fresh", "thief", time.Hour)
	require.ErrorIs(t, err, sessions.ErrReuseDetected)
	refused(e.session("u", "fresh2", time.Hour), "revoked with its family")

	// At the revoked session's own expiry its tombstone is over, and the
	// ID is free again; b's session had an hour more.
	e.clk.Add(time.Hour)
	e.remember(e.session("u", "a", time.Hour))
	assert.True(t, e.active(e.s, "u", "a"))
	refused(e.session("u", "b", time.Hour), "b before its expiry")
	e.clk.Add(time.Hour)
	e.remember(e.session("u", "b", time.Hour))
	assert.True(t, e.active(e.s, "u", "b"))
}

// testRevokeAllUnderConcurrentRemember checks that RevokeAllForUser is
// complete while sessions are being remembered on two instances: every
// session remembered before a call started is inactive when it returns,
// and after a last call nothing is left that the index could have missed.
func testRevokeAllUnderConcurrentRemember(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	stores := []sessions.Store{e.s, e.instance()}
	const writers, perWriter = 4, 40

	var mu sync.Mutex
	var done []string // IDs whose Remember has returned
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				id := fmt.Sprintf("w%d-%d", w, i)
				if err := stores[w%2].Remember(e.ctx, e.session("u", id, time.Hour)); err != nil {
					t.Errorf("Remember: %v", err)
					return
				}
				mu.Lock()
				done = append(done, id)
				mu.Unlock()
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()

	for round := 0; ; round++ {
		mu.Lock()
		before := append([]string(nil), done...)
		mu.Unlock()
		_, err := stores[round%2].RevokeAllForUser(e.ctx, "u")
		require.NoError(t, err)
		for _, id := range before {
			require.False(t, e.active(stores[(round+1)%2], "u", id),
				"round %d: %s was remembered before RevokeAllForUser started", round, id)
		}
		select {
		case <-finished:
		default:
			continue
		}
		break
	}

	_, err := e.s.RevokeAllForUser(e.ctx, "u")
	require.NoError(t, err)
	require.Len(t, done, writers*perWriter)
	for _, id := range done {
		require.False(t, e.active(e.s, "u", id), id)
	}
	assert.Empty(t, e.list("u"))
	if keys := e.keys(); keys != nil {
		// Each session revoked leaves its tombstone, until its expiry; a
		// key more is a session the index did not find.
		assert.Len(t, keys, len(done), "one tombstone per session, and nothing else")
	}
}

func testListForUser(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	now := e.clk.Now()
	issued := now.Add(-time.Minute).Add(123 * time.Microsecond)
	e.remember(sessions.Session{
		ID: "late", UserID: "u", FamilyID: "fam-1", IssuedAt: issued, ExpiresAt: now.Add(3 * time.Hour),
		Meta: map[string]string{"ip": "192.0.2.1", "user_agent": "Mozilla/5.0 <test> & \"quotes\" ünïcode"},
	})
	e.remember(e.session("u", "soon", time.Hour))
	e.remember(e.session("u", "mid", 2*time.Hour))
	e.remember(e.session("u", "gone", 2*time.Hour))
	require.NoError(t, e.s.Revoke(e.ctx, "u", "gone"))
	e.remember(e.session("u", "old", 2*time.Hour))
	_, err := e.rotate(e.s, "u", "old", "new", 4*time.Hour)
	require.NoError(t, err)
	e.remember(e.session("v", "theirs", time.Hour))

	list := e.list("u")
	require.Equal(t, []string{"soon", "mid", "late", "new"}, idsOf(list), "soonest expiry first")
	assertSession(t, sessions.Session{
		ID: "late", UserID: "u", FamilyID: "fam-1",
		IssuedAt: issued.Truncate(time.Millisecond), ExpiresAt: now.Add(3 * time.Hour),
		Meta: map[string]string{"ip": "192.0.2.1", "user_agent": "Mozilla/5.0 <test> & \"quotes\" ünïcode"},
	}, list[2])
	assertSession(t, sessions.Session{
		ID: "soon", UserID: "u", FamilyID: "soon", IssuedAt: now, ExpiresAt: now.Add(time.Hour),
	}, list[0])
	assert.Equal(t, "old", list[3].FamilyID, "a successor keeps its family")

	// The result is the caller's.
	list[2].Meta["ip"] = "changed"
	assert.Equal(t, "192.0.2.1", e.list("u")[2].Meta["ip"])

	empty := e.list("nobody")
	assert.NotNil(t, empty)
	assert.Empty(t, empty)
}

func testMultiInstance(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	a, b := e.s, e.instance()
	e.remember(e.session("u", "s1", time.Hour))
	assert.True(t, e.active(b, "u", "s1"))

	next, err := e.rotate(b, "u", "s1", "s2", time.Hour)
	require.NoError(t, err)
	assert.False(t, e.active(a, "u", "s1"))
	assert.True(t, e.active(a, "u", next.ID))

	require.NoError(t, a.Revoke(e.ctx, "u", "s2"))
	assert.False(t, e.active(b, "u", "s2"))
}

func testMaxSessionsPerUser(t *testing.T, nh NewHarness) {
	e := setup(t, nh, sessions.WithMaxSessionsPerUser(3))
	e.remember(e.session("u", "s4h", 4*time.Hour))
	e.remember(e.session("u", "s2h", 2*time.Hour))
	e.remember(e.session("u", "s3h", 3*time.Hour))
	e.remember(e.session("v", "v1", time.Minute))
	assert.Equal(t, []string{"s2h", "s3h", "s4h"}, e.ids("u"))

	// The fourth evicts the one that expires first, never itself.
	e.events.take()
	e.remember(e.session("u", "s1h", time.Hour))
	assert.Equal(t, []string{"s1h", "s3h", "s4h"}, e.ids("u"))
	assert.False(t, e.active(e.s, "u", "s2h"))
	// An eviction is a state change: the observer hears of it.
	evicted := []sessions.Event{{Type: sessions.EventRemembered}, {Type: sessions.EventEvicted, Count: 1}}
	assert.Equal(t, evicted, e.events.take())

	e.remember(e.session("u", "s5h", 5*time.Hour))
	assert.Equal(t, []string{"s3h", "s4h", "s5h"}, e.ids("u"))
	assert.Equal(t, evicted, e.events.take())

	// Replacing a session does not count as one more.
	e.remember(e.session("u", "s3h", 6*time.Hour))
	assert.Equal(t, []string{"s4h", "s5h", "s3h"}, e.ids("u"))
	assert.Equal(t, []sessions.Event{{Type: sessions.EventRemembered}}, e.events.take(), "nothing evicted")
	// Rotation replaces one with one.
	_, err := e.rotate(e.s, "u", "s4h", "s7h", 7*time.Hour)
	require.NoError(t, err)
	assert.Equal(t, []string{"s5h", "s3h", "s7h"}, e.ids("u"))
	assert.Equal(t, []string{"v1"}, e.ids("v"), "other users are untouched")
}

// testEvictionTies: sessions that expire at the same instant are evicted
// in the order of their escaped IDs, the order of the Redis index, which
// is not the IDs' byte order: "a:" escapes to "a%3A", before "a9".
func testEvictionTies(t *testing.T, nh NewHarness) {
	e := setup(t, nh, sessions.WithMaxSessionsPerUser(2))
	e.remember(e.session("u", "a9", time.Hour))
	e.remember(e.session("u", "a:", time.Hour))
	e.remember(e.session("u", "z", 2*time.Hour))
	assert.Equal(t, []string{"a9", "z"}, e.ids("u"))
	assert.False(t, e.active(e.s, "u", "a:"))
}

func idsOf(list []sessions.Session) []string {
	ids := make([]string, 0, len(list))
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	return ids
}

// assertSession compares sessions field by field, times by instant.
func assertSession(t *testing.T, want, got sessions.Session) {
	t.Helper()
	assert.Equal(t, want.ID, got.ID, "ID")
	assert.Equal(t, want.UserID, got.UserID, "UserID")
	assert.Equal(t, want.FamilyID, got.FamilyID, "FamilyID")
	assert.True(t, want.IssuedAt.Equal(got.IssuedAt), "IssuedAt: want %v, got %v", want.IssuedAt, got.IssuedAt)
	assert.True(t, want.ExpiresAt.Equal(got.ExpiresAt), "ExpiresAt: want %v, got %v", want.ExpiresAt, got.ExpiresAt)
	if len(want.Meta) == 0 {
		assert.Empty(t, got.Meta, "Meta")
	} else {
		assert.Equal(t, want.Meta, got.Meta, "Meta")
	}
}
