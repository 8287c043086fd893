package e2e

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Run runs the whole end-to-end suite against servers built by newHandler.
// Subtests run in parallel, each on its own server.
func Run(t *testing.T, newHandler NewHandler) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, NewHandler)
	}{
		{"LoginRefreshReuse", testLoginRefreshReuse},
		{"ConcurrentRefresh", testConcurrentRefresh},
		{"LogoutAll", testLogoutAll},
		{"Logout", testLogout},
		{"Reminders", testReminders},
		{"Payments", testPayments},
		{"Validation", testValidation},
		{"Routing", testRouting},
		{"StoreDown", testStoreDown},
		{"StoreHung", testStoreHung},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newHandler)
		})
	}
}

// testLoginRefreshReuse: login, use the access token, rotate, and present
// the spent refresh token again: reuse, so the whole family is revoked.
func testLoginRefreshReuse(t *testing.T, h NewHandler) {
	s := Start(t, h, nil)
	assert.Equal(t, http.StatusOK, s.Do("GET", "/healthz", "", nil).Status)
	defer func() {
		// The library's collectors counted what happened.
		r := s.Do("GET", "/metrics", "", nil)
		require.Equal(t, http.StatusOK, r.Status)
		assert.Regexp(t, `(?m)^kit_sessions_remembered_total 1$`, string(r.Body))
		assert.Regexp(t, `(?m)^kit_sessions_reuse_detected_total 1$`, string(r.Body))
	}()

	r := s.Do("POST", "/auth/login", "", map[string]string{"username": "demo", "password": "wrong"})
	// A refused grant is 400 invalid_grant (RFC 6749 §5.2), with no
	// Bearer challenge: the client sent no bearer token.
	assert.Equal(t, http.StatusBadRequest, r.Status, "wrong password: %s", r.Body)
	assert.Equal(t, "invalid_grant", r.ErrorCode())
	assert.Empty(t, r.Header.Get("WWW-Authenticate"))
	r = s.Do("POST", "/auth/login", "", map[string]string{"username": "nobody", "password": "demo"})
	assert.Equal(t, http.StatusBadRequest, r.Status, "unknown user: %s", r.Body)
	assert.Equal(t, "invalid_grant", r.ErrorCode())

	r = s.Do("POST", "/auth/login", "", map[string]string{"username": "demo", "password": "demo"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"), "RFC 6749 §5.1")
	var first Tokens
	r.JSON(t, &first)
	assert.Equal(t, "Bearer", first.TokenType)
	assert.Equal(t, int(s.Config.AccessTTL.Seconds()), first.ExpiresIn)
	require.NotEmpty(t, first.AccessToken)
	require.NotEmpty(t, first.RefreshToken)

	// The session is listed, with the client's metadata, as the current one.
	var list struct {
		Sessions []struct {
			ID        string `json:"id"`
			Current   bool   `json:"current"`
			UserAgent string `json:"user_agent"`
			IP        string `json:"ip"`
		} `json:"sessions"`
	}
	r = s.Do("GET", "/auth/sessions", first.AccessToken, nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	r.JSON(t, &list)
	require.Len(t, list.Sessions, 1)
	assert.True(t, list.Sessions[0].Current)
	assert.Equal(t, UserAgent, list.Sessions[0].UserAgent)
	assert.Equal(t, "127.0.0.1", list.Sessions[0].IP)
	assert.NotContains(t, string(r.Body), first.RefreshToken, "a listing never shows a token")

	// Rotation: a new pair; the old access token ends with its session.
	r = s.Refresh(first.RefreshToken)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var second Tokens
	r.JSON(t, &second)
	assert.NotEqual(t, first.RefreshToken, second.RefreshToken)
	assert.Equal(t, http.StatusOK, s.Do("GET", "/auth/sessions", second.AccessToken, nil).Status)
	assert.Equal(t, http.StatusUnauthorized, s.Do("GET", "/auth/sessions", first.AccessToken, nil).Status)

	// Reuse of the spent token: 400 invalid_grant, and the family is
	// revoked, so the token that was just issued is refused too.
	r = s.Refresh(first.RefreshToken)
	assert.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Body)
	assert.Equal(t, "invalid_grant", r.ErrorCode())
	assert.Contains(t, r.ErrorDescription(), "reuse")
	assert.Empty(t, r.Header.Get("WWW-Authenticate"))
	assert.Equal(t, http.StatusBadRequest, s.Refresh(second.RefreshToken).Status, "family revoked")
	assert.Equal(t, http.StatusUnauthorized, s.Do("GET", "/auth/sessions", second.AccessToken, nil).Status)
}

// testConcurrentRefresh: 20 requests race to rotate one refresh token.
// Exactly one wins; the other 19 are reuse, which revokes the family, so
// even the winner's new token is refused afterwards.
func testConcurrentRefresh(t *testing.T, h NewHandler) {
	s := Start(t, h, nil)
	tok := s.Login("demo", "demo")

	const n = 20
	statuses := make([]int, n)
	bodies := make([][]byte, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := s.Refresh(tok.RefreshToken)
			statuses[i], bodies[i] = r.Status, r.Body
		}()
	}
	close(start)
	wg.Wait()

	var winner []byte
	count := map[int]int{}
	for i, st := range statuses {
		count[st]++
		if st == http.StatusOK {
			winner = bodies[i]
		}
	}
	require.Equal(t, map[int]int{http.StatusOK: 1, http.StatusBadRequest: n - 1}, count)
	var won Tokens
	require.NoError(t, json.Unmarshal(winner, &won))
	assert.Equal(t, http.StatusBadRequest, s.Refresh(won.RefreshToken).Status, "family revoked by the reuse")
}

// testLogoutAll: three devices and another user; logout-all ends every
// refresh and access token of the user, and only of that user.
func testLogoutAll(t *testing.T, h NewHandler) {
	s := Start(t, h, nil)
	devices := []Tokens{s.Login("demo", "demo"), s.Login("demo", "demo"), s.Login("demo", "demo")}
	// One device has rotated once: its current token must end too.
	r := s.Refresh(devices[2].RefreshToken)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	r.JSON(t, &devices[2])
	alice := s.Login("alice", "wonderland")

	assert.Equal(t, http.StatusUnauthorized, s.Do("POST", "/auth/logout-all", "", nil).Status, "needs a bearer token")
	r = s.Do("POST", "/auth/logout-all", devices[0].AccessToken, nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var out struct {
		Revoked int `json:"revoked"`
	}
	r.JSON(t, &out)
	assert.Equal(t, 3, out.Revoked)

	for i, d := range devices {
		assert.Equal(t, http.StatusBadRequest, s.Refresh(d.RefreshToken).Status, "device %d refresh", i)
		assert.Equal(t, http.StatusUnauthorized, s.Do("GET", "/auth/sessions", d.AccessToken, nil).Status, "device %d access", i)
	}
	assert.Equal(t, http.StatusOK, s.Do("GET", "/auth/sessions", alice.AccessToken, nil).Status, "another user is untouched")
	assert.Equal(t, http.StatusOK, s.Refresh(alice.RefreshToken).Status)
}

// testLogout: logout ends one session and is idempotent; a token that is
// not a valid refresh token revokes nothing and is no error; a refresh
// token already rotated ends the login it belongs to.
func testLogout(t *testing.T, h NewHandler) {
	s := Start(t, h, nil)
	one, two := s.Login("demo", "demo"), s.Login("demo", "demo")
	body := map[string]string{"refresh_token": one.RefreshToken}
	assert.Equal(t, http.StatusNoContent, s.Do("POST", "/auth/logout", "", body).Status)
	assert.Equal(t, http.StatusNoContent, s.Do("POST", "/auth/logout", "", body).Status, "idempotent")
	assert.Equal(t, http.StatusBadRequest, s.Refresh(one.RefreshToken).Status)
	assert.Equal(t, http.StatusUnauthorized, s.Do("GET", "/auth/sessions", one.AccessToken, nil).Status)
	assert.Equal(t, http.StatusOK, s.Refresh(two.RefreshToken).Status, "the other session lives")
	// RFC 7009 §2.2: an invalid token is no error, since the client could
	// do nothing about one; an access token is not a refresh token.
	three := s.Login("demo", "demo")
	for _, tok := range []string{"not-a-jwt", three.AccessToken} {
		r := s.Do("POST", "/auth/logout", "", map[string]string{"refresh_token": tok})
		assert.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	}
	assert.Equal(t, http.StatusOK, s.Do("GET", "/auth/sessions", three.AccessToken, nil).Status, "an access token revokes nothing")
	assert.Equal(t, http.StatusOK, s.Refresh(three.RefreshToken).Status)

	// A logout with a refresh token already rotated (a client that missed
	// the rotation, or one the token was stolen from) ends the login: the
	// session it was rotated into goes too.
	four := s.Login("demo", "demo")
	r := s.Refresh(four.RefreshToken)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var rotated Tokens
	r.JSON(t, &rotated)
	assert.Equal(t, http.StatusNoContent, s.Do("POST", "/auth/logout", "", map[string]string{"refresh_token": four.RefreshToken}).Status)
	assert.Equal(t, http.StatusUnauthorized, s.Do("GET", "/auth/sessions", rotated.AccessToken, nil).Status)
	assert.Equal(t, http.StatusBadRequest, s.Refresh(rotated.RefreshToken).Status)
}
