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

func testRotate(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	e.remember(e.session("u", "a", time.Hour))
	e.remember(e.session("u", "bystander", time.Hour))

	now := e.clk.Now()
	next := sessions.Session{ID: "b", ExpiresAt: now.Add(2 * time.Hour), Meta: map[string]string{"ip": "192.0.2.7"}}
	got, err := e.s.Rotate(e.ctx, "u", "a", next) // UserID "" means the caller's
	require.NoError(t, err)
	want := sessions.Session{ID: "b", UserID: "u", FamilyID: "a", IssuedAt: now, ExpiresAt: now.Add(2 * time.Hour),
		Meta: map[string]string{"ip": "192.0.2.7"}}
	assertSession(t, want, got)
	assert.False(t, e.active(e.s, "u", "a"), "the old session is spent")
	assert.True(t, e.active(e.s, "u", "b"))
	assertSession(t, want, e.list("u")[1])

	// A named family must be the old one's; a chain keeps it.
	c, err := e.s.Rotate(e.ctx, "u", "b", sessions.Session{ID: "c", UserID: "u", FamilyID: "a", ExpiresAt: now.Add(time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, "a", c.FamilyID)
	_, err = e.s.Rotate(e.ctx, "u", "c", sessions.Session{ID: "d", FamilyID: "other", ExpiresAt: now.Add(time.Hour)})
	require.ErrorIs(t, err, sessions.ErrInvalid)
	assert.Contains(t, err.Error(), "next.FamilyID")

	// The successor's ID must not be in use: by a session, or by a rotated one.
	for _, id := range []string{"bystander", "a"} {
		_, err = e.rotate(e.s, "u", "c", id, time.Hour)
		require.ErrorIs(t, err, sessions.ErrInvalid, id)
		assert.Contains(t, err.Error(), "next.ID")
	}
	// None of the refused calls changed anything.
	assert.True(t, e.active(e.s, "u", "c"))
	assert.Equal(t, []string{"bystander", "c"}, e.ids("u"), "same expiry: by ID")

	// A rotated session's tombstone lasts until its own expiry, then the
	// ID is simply unknown.
	e.clk.Set(now.Add(time.Hour))
	_, err = e.rotate(e.s, "u", "a", "late", 3*time.Hour)
	assert.ErrorIs(t, err, sessions.ErrNotActive)
}

// A successor without Meta of its own keeps the old session's, byte for
// byte, along the chain; one with Meta replaces it.
func testRotateKeepsMeta(t *testing.T, nh NewHarness) {
	e := setup(t, nh, sessions.WithRotationGrace(time.Minute))
	login := map[string]string{"device": "iPhone \"15\" </script> é\u2028", "ip": "192.0.2.7"}
	a := e.session("u", "a", time.Hour)
	a.Meta = login
	e.remember(a)

	b, err := e.rotate(e.s, "u", "a", "b", time.Hour)
	require.NoError(t, err)
	assert.Equal(t, login, b.Meta, "Rotate's result")
	assert.Equal(t, login, e.list("u")[0].Meta, "as stored")
	again, err := e.rotate(e.s, "u", "a", "b2", time.Hour) // within the grace
	require.NoError(t, err)
	assert.Equal(t, login, again.Meta, "the successor within the grace")

	next := e.session("u", "c", time.Hour)
	next.Meta = map[string]string{"ip": "198.51.100.1"}
	c, err := e.s.Rotate(e.ctx, "u", "b", next)
	require.NoError(t, err)
	assert.Equal(t, next.Meta, c.Meta, "replaced")

	next = e.session("u", "d", time.Hour)
	next.Meta = map[string]string{}
	d, err := e.s.Rotate(e.ctx, "u", "c", next)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"ip": "198.51.100.1"}, d.Meta, "an empty map keeps the old Meta too")
	assert.Equal(t, d.Meta, e.list("u")[0].Meta)

	// No Meta to keep: none.
	e.remember(e.session("v", "x", time.Hour))
	y, err := e.rotate(e.s, "v", "x", "y", time.Hour)
	require.NoError(t, err)
	assert.Empty(t, y.Meta)
	assert.Empty(t, e.list("v")[0].Meta)
}

// A rotated ID is spent until its session's own expiry: Remember refuses
// it and writes nothing, so that its reuse is still detected; afterwards
// the ID is free again.
func testRememberRefusesASpentID(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	e.remember(e.session("u", "a", time.Hour))
	_, err := e.rotate(e.s, "u", "a", "b", 2*time.Hour)
	require.NoError(t, err)

	err = e.s.Remember(e.ctx, e.session("u", "a", 3*time.Hour))
	require.ErrorIs(t, err, sessions.ErrInvalid)
	assert.Contains(t, err.Error(), "rotated")
	assert.False(t, e.active(e.s, "u", "a"), "nothing written")
	assert.Equal(t, []string{"b"}, e.ids("u"))
	_, err = e.rotate(e.s, "u", "a", "c", time.Hour)
	require.ErrorIs(t, err, sessions.ErrReuseDetected, "reuse is still detected")

	e.clk.Set(e.clk.Now().Add(time.Hour)) // a's own expiry: its tombstone is over
	e.remember(e.session("u", "a", time.Hour))
	assert.True(t, e.active(e.s, "u", "a"))
}

func testRotateNotActive(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	e.remember(e.session("u", "revoked", time.Hour))
	require.NoError(t, e.s.Revoke(e.ctx, "u", "revoked"))
	e.remember(e.session("u", "expired", time.Minute))
	e.remember(e.session("v", "theirs", time.Hour))
	e.clk.Add(time.Minute)

	for _, id := range []string{"unknown", "revoked", "expired", "theirs"} {
		_, err := e.rotate(e.s, "u", id, "next-"+id, time.Hour)
		assert.ErrorIs(t, err, sessions.ErrNotActive, id)
		assert.False(t, e.active(e.s, "u", "next-"+id), "nothing created for %s", id)
	}
	assert.True(t, e.active(e.s, "v", "theirs"))
}

// rotateConcurrently runs n Rotate calls of one old ID at once, spread
// over the stores, each with its own successor ID.
func rotateConcurrently(e *env, stores []sessions.Store, n int, user, old string) ([]sessions.Session, []error) {
	got := make([]sessions.Session, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got[i], errs[i] = e.rotate(stores[i%len(stores)], user, old, fmt.Sprintf("next-%02d", i), time.Hour)
		}()
	}
	close(start)
	wg.Wait()
	return got, errs
}

func testConcurrentRotateIsSingleUse(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	e.remember(e.session("u", "old", time.Hour))
	got, errs := rotateConcurrently(e, []sessions.Store{e.s, e.instance()}, 40, "u", "old")

	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "two calls created a successor: %d and %d", winner, i)
			winner = i
			continue
		}
		// Without grace every later presentation is reuse.
		require.ErrorIs(t, err, sessions.ErrReuseDetected, "call %d", i)
	}
	require.NotEqual(t, -1, winner, "no call won")
	assert.Equal(t, fmt.Sprintf("next-%02d", winner), got[winner].ID)
	assert.Equal(t, 1, e.events.count(sessions.EventRotated))
	// The losers' reuse revoked the winner's successor with its family.
	assert.False(t, e.active(e.s, "u", got[winner].ID))
	assert.Empty(t, e.list("u"))
}

func testConcurrentRotateWithGrace(t *testing.T, nh NewHarness) {
	e := setup(t, nh, sessions.WithRotationGrace(30*time.Second))
	e.remember(e.session("u", "old", time.Hour))
	got, errs := rotateConcurrently(e, []sessions.Store{e.s, e.instance()}, 40, "u", "old")

	for i, err := range errs {
		require.NoError(t, err, "call %d", i)
		require.Equal(t, got[0].ID, got[i].ID, "every call returns the one successor")
	}
	assert.Equal(t, 1, e.events.count(sessions.EventRotated), "exactly one successor created")
	assert.Equal(t, []string{got[0].ID}, e.ids("u"))
	assert.Zero(t, e.events.count(sessions.EventReuseDetected))
}

func testReuseRevokesFamily(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	// The family's ID holds what JSON and HTML escaping treat specially,
	// and other families' IDs extend it or cut it short: reuse must revoke
	// exactly this family, however a backend compares families.
	const a = "a/<&>\"\\\u2028é"
	e.remember(e.session("u", a, time.Hour))
	member := e.session("u", "sibling", time.Hour) // same family, named
	member.FamilyID = a
	e.remember(member)
	e.remember(e.session("u", "unrelated", time.Hour))
	for _, fam := range []string{a + "x", a[:len(a)-len("é")], "a/<&>"} {
		other := e.session("u", "other "+fam, time.Hour)
		other.FamilyID = fam
		e.remember(other)
	}
	e.remember(e.session("v", a, time.Hour)) // another user's ID a

	_, err := e.rotate(e.s, "u", a, "b", time.Hour)
	require.NoError(t, err)
	_, err = e.rotate(e.s, "u", "b", "c", time.Hour)
	require.NoError(t, err)
	e.events.take()

	// a again, from another instance: reuse.
	_, err = e.rotate(e.instance(), "u", a, "attacker", time.Hour)
	require.ErrorIs(t, err, sessions.ErrReuseDetected)
	for _, id := range []string{a, "b", "c", "sibling", "attacker"} {
		assert.False(t, e.active(e.s, "u", id), id)
	}
	assert.ElementsMatch(t, []string{"unrelated", "other " + a + "x", "other " + a[:len(a)-len("é")], "other a/<&>"}, e.ids("u"),
		"other families live on")
	assert.True(t, e.active(e.s, "v", a), "other users live on")
	assert.Equal(t, []sessions.Event{{Type: sessions.EventReuseDetected, Count: 2}}, e.events.take())

	// Any rotated ID of the family is still reuse, not unknown.
	_, err = e.rotate(e.s, "u", "b", "again", time.Hour)
	assert.ErrorIs(t, err, sessions.ErrReuseDetected)
	// And the revoked successor is simply not active.
	_, err = e.rotate(e.s, "u", "c", "again", time.Hour)
	assert.ErrorIs(t, err, sessions.ErrNotActive)
}

// testGraceAcrossTwoGenerations: within the grace, the immediate
// predecessor gets the current successor back; the predecessor's
// predecessor is reuse.
func testGraceAcrossTwoGenerations(t *testing.T, nh NewHarness) {
	e := setup(t, nh, sessions.WithRotationGrace(10*time.Second))
	e.remember(e.session("u", "a", time.Hour))

	b, err := e.rotate(e.s, "u", "a", "b", time.Hour)
	require.NoError(t, err)
	e.clk.Add(time.Second)
	again, err := e.rotate(e.instance(), "u", "a", "b-retry", time.Hour)
	require.NoError(t, err, "a lost response: a is presented again")
	assertSession(t, b, again)
	assert.Equal(t, []string{"b"}, e.ids("u"), "nothing new created")

	c, err := e.rotate(e.s, "u", "b", "c", time.Hour)
	require.NoError(t, err)
	e.clk.Add(time.Second)
	again, err = e.rotate(e.s, "u", "b", "c-retry", time.Hour)
	require.NoError(t, err)
	assertSession(t, c, again)
	assert.Equal(t, 2, e.events.count(sessions.EventRotated))

	// a is two generations back, still within its own grace: reuse.
	_, err = e.rotate(e.s, "u", "a", "a-late", time.Hour)
	require.ErrorIs(t, err, sessions.ErrReuseDetected)
	assert.False(t, e.active(e.s, "u", "c"), "the family is revoked")
	assert.Empty(t, e.list("u"))
}

// testGraceKeepsToTheFamily: grace hands back old's successor only while
// its ID still holds a session of old's family. An application may reuse
// an expired successor's ID (here as another family's successor); old
// presented again is then reuse, and must not hand out that session. (A
// revoked successor's ID stays spent until its expiry: see
// testRememberRefusesARevokedID.)
func testGraceKeepsToTheFamily(t *testing.T, nh NewHarness) {
	e := setup(t, nh, sessions.WithRotationGrace(10*time.Second))
	e.remember(e.session("u", "a", time.Hour))
	e.remember(e.session("u", "b", time.Hour))
	_, err := e.rotate(e.s, "u", "a", "x", time.Second)
	require.NoError(t, err)
	e.clk.Add(time.Second) // x expires
	x, err := e.rotate(e.s, "u", "b", "x", time.Hour)
	require.NoError(t, err, "x is free again")
	require.Equal(t, "b", x.FamilyID)

	e.clk.Add(time.Second)
	got, err := e.rotate(e.instance(), "u", "a", "a-retry", time.Hour)
	require.ErrorIs(t, err, sessions.ErrReuseDetected, "a, within its grace, handed out %+v", got)
	assert.True(t, e.active(e.s, "u", "x"), "family b is not a's to revoke")
	assert.Equal(t, []string{"x"}, e.ids("u"))
}

// testNoGraceWithAClockBehind: without a grace, presenting a rotated
// token again is reuse even when the second call's clock reads earlier
// than the rotation (another instance a few ms behind, or a concurrent
// request that read the clock first but reached the store second). A
// grace window taken as [rotation, rotation+0) once let such a call
// through as "within the grace".
func testNoGraceWithAClockBehind(t *testing.T, nh NewHarness) {
	e := setup(t, nh)
	e.remember(e.session("u", "a", time.Hour))
	rotatedAt := e.clk.Now()
	_, err := e.rotate(e.s, "u", "a", "b", time.Hour)
	require.NoError(t, err)

	e.clk.Set(rotatedAt.Add(-5 * time.Millisecond))
	_, err = e.rotate(e.s, "u", "a", "x", time.Hour)
	require.ErrorIs(t, err, sessions.ErrReuseDetected)
	e.clk.Set(rotatedAt)
	assert.False(t, e.active(e.s, "u", "b"), "the family is revoked")
}

// testGraceWithAClockBehind: with a grace, a presentation whose clock
// reads a little before the rotation is within the grace; one more than
// the grace before it (an instance whose clock is far behind, replaying
// the token long after) is reuse, or a lagging clock would stretch the
// grace by its lag.
func testGraceWithAClockBehind(t *testing.T, nh NewHarness) {
	const grace = 5 * time.Second
	e := setup(t, nh, sessions.WithRotationGrace(grace))
	e.remember(e.session("u", "a", time.Hour))
	e.remember(e.session("u", "b", time.Hour))
	rotatedAt := e.clk.Now()
	for _, id := range []string{"a", "b"} {
		_, err := e.rotate(e.s, "u", id, id+"-next", time.Hour)
		require.NoError(t, err)
	}

	e.clk.Set(rotatedAt.Add(-grace))
	got, err := e.rotate(e.s, "u", "a", "x", time.Hour)
	require.NoError(t, err, "a clock the grace behind is within it")
	assert.Equal(t, "a-next", got.ID)

	e.clk.Set(rotatedAt.Add(-grace - time.Millisecond))
	_, err = e.rotate(e.s, "u", "b", "x", time.Hour)
	require.ErrorIs(t, err, sessions.ErrReuseDetected, "a clock further behind is not")
	e.clk.Set(rotatedAt)
	assert.False(t, e.active(e.s, "u", "b-next"), "the family is revoked")
}

// testSubMillisecondGrace: the grace counts whole milliseconds on both
// backends, so a grace under one is none.
func testSubMillisecondGrace(t *testing.T, nh NewHarness) {
	e := setup(t, nh, sessions.WithRotationGrace(500*time.Microsecond))
	e.remember(e.session("u", "a", time.Hour))
	rotatedAt := e.clk.Now()
	_, err := e.rotate(e.s, "u", "a", "b", time.Hour)
	require.NoError(t, err)
	e.clk.Set(rotatedAt.Add(-time.Millisecond))
	_, err = e.rotate(e.s, "u", "a", "x", time.Hour)
	require.ErrorIs(t, err, sessions.ErrReuseDetected)
}

func testGraceWindowEdges(t *testing.T, nh NewHarness) {
	const grace = 5 * time.Second
	e := setup(t, nh, sessions.WithRotationGrace(grace))
	e.remember(e.session("u", "a1", time.Hour))
	e.remember(e.session("u", "a2", time.Hour))
	e.remember(e.session("u", "a3", time.Hour))
	rotatedAt := e.clk.Now()
	for _, id := range []string{"a1", "a2", "a3"} {
		_, err := e.rotate(e.s, "u", id, id+"-next", time.Hour)
		require.NoError(t, err)
	}

	e.clk.Set(rotatedAt.Add(grace - time.Millisecond))
	got, err := e.rotate(e.s, "u", "a1", "x", time.Hour)
	require.NoError(t, err, "1ms before the grace ends")
	assert.Equal(t, "a1-next", got.ID)

	e.clk.Set(rotatedAt.Add(grace))
	_, err = e.rotate(e.s, "u", "a2", "x", time.Hour)
	require.ErrorIs(t, err, sessions.ErrReuseDetected, "the grace has ended")
	assert.False(t, e.active(e.s, "u", "a2-next"))

	// Grace needs the successor to be current: revoked, it is reuse.
	e.clk.Set(rotatedAt.Add(time.Second))
	require.NoError(t, e.s.Revoke(e.ctx, "u", "a3-next"))
	_, err = e.rotate(e.s, "u", "a3", "x", time.Hour)
	require.ErrorIs(t, err, sessions.ErrReuseDetected)
	assert.Equal(t, []string{"a1-next"}, e.ids("u"))
}
