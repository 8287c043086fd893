package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/examples/internal/api"
	"github.com/sytefy/kit/examples/internal/app"
	"github.com/sytefy/kit/internal/redistest"
)

// testValidation: bad input is a 400 invalid_request (413 for a huge body)
// with a JSON error that says what is wrong; a refused refresh token is
// 400 invalid_grant; a missing or bad access token is 401.
func testValidation(t *testing.T, h NewHandler) {
	s := Start(t, h, nil)
	tok := s.Login("demo", "demo")
	future := stamp(time.Now().Add(time.Hour))
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		mentions                 string
	}{
		{"not JSON", "POST", "/appointments", `{"title": `, 400, "JSON"},
		{"no body", "POST", "/appointments", ``, 400, "body"},
		{"array", "POST", "/appointments", `[1]`, 400, "JSON"},
		{"missing title", "POST", "/appointments", `{"at": "` + future + `"}`, 400, "title"},
		{"missing at", "POST", "/appointments", `{"title": "x"}`, 400, "at"},
		{"bad time", "POST", "/appointments", `{"title": "x", "at": "tomorrow"}`, 400, "RFC 3339"},
		{"past time", "POST", "/appointments", `{"title": "x", "at": "2001-01-01T00:00:00Z"}`, 400, "future"},
		{"unknown field", "POST", "/appointments", `{"titel": "x", "at": "` + future + `"}`, 400, "titel"},
		{"wrong type", "POST", "/appointments", `{"title": 7, "at": "` + future + `"}`, 400, "title"},
		{"trailing data", "POST", "/appointments", `{"title": "x", "at": "` + future + `"} {}`, 400, "after"},
		{"control character", "POST", "/appointments", `{"title": "a\u0007b", "at": "` + future + `"}`, 400, "title"},
		{"huge body", "POST", "/appointments", `{"title": "` + strings.Repeat("x", api.MaxBodyBytes) + `"}`, 413, "limit"},
		{"unknown appointment", "PUT", "/appointments/nope", `{"at": "` + future + `"}`, 404, "nope"},
		{"bad amount", "POST", "/payments", `{"amount": "4,50", "due_at": "` + future + `"}`, 400, "amount"},
		{"amount as a number", "POST", "/payments", `{"amount": 49.9, "due_at": "` + future + `"}`, 400, `amount must be a string such as "49.90"`},
		{"bad currency", "POST", "/payments", `{"amount": "4.50", "currency": "lira", "due_at": "` + future + `"}`, 400, "currency"},
		{"login without password", "POST", "/auth/login", `{"username": "demo"}`, 400, "password"},
		{"refresh without token", "POST", "/auth/refresh", `{}`, 400, "refresh_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do(tc.method, tc.path, tok.AccessToken, tc.body)
			assert.Equal(t, tc.status, r.Status, "%s", r.Body)
			codes := map[int]string{400: "invalid_request", 404: "not_found", 413: "request_too_large"}
			assert.Equal(t, codes[tc.status], r.ErrorCode(), "%s", r.Body)
			assert.Contains(t, r.ErrorDescription(), tc.mentions)
		})
	}

	// A refused grant is 400 invalid_grant (RFC 6749 §5.2).
	for name, token := range map[string]string{"garbage": "abc", "an access token": tok.AccessToken} {
		t.Run("refresh with "+name, func(t *testing.T) {
			r := s.Refresh(token)
			assert.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Body)
			assert.Equal(t, "invalid_grant", r.ErrorCode())
			assert.Contains(t, r.ErrorDescription(), "refresh")
		})
	}

	for name, header := range map[string]string{
		"no header":       "",
		"basic scheme":    "Basic ZGVtbzpkZW1v",
		"empty bearer":    "Bearer ",
		"garbage":         "Bearer abc.def.ghi",
		"a refresh token": "Bearer " + tok.RefreshToken,
	} {
		t.Run("auth "+name, func(t *testing.T) {
			req, err := http.NewRequest("GET", s.URL+"/auth/sessions", nil)
			require.NoError(t, err)
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			resp, err := s.client.Do(req)
			require.NoError(t, err)
			var body api.ErrorBody
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			resp.Body.Close()
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			// RFC 6750 §3.1: no error code when no bearer token came,
			// and the body does not call the absent token invalid.
			want, code := `Bearer error="invalid_token"`, "invalid_token"
			if name == "no header" || name == "basic scheme" || name == "empty bearer" {
				want, code = "Bearer", "unauthorized"
			}
			assert.Equal(t, want, resp.Header.Get("WWW-Authenticate"))
			assert.Equal(t, code, body.Error)
		})
	}
}

// testStoreDown: the service's Redis goes away. Refresh and every
// authenticated route answer 500, never 200 (fail closed), and the health
// check reports it.
func testStoreDown(t *testing.T, h NewHandler) {
	down := miniredis.RunT(t)
	addr := down.Addr()
	s := Start(t, h, func(c *app.Config) {
		c.RedisURL = "redis://" + addr
		c.KeyPrefix = ""
	})
	tok := s.Login("demo", "demo")
	require.Equal(t, http.StatusOK, s.Do("GET", "/auth/sessions", tok.AccessToken, nil).Status)

	down.Close()
	r := s.Refresh(tok.RefreshToken)
	assert.Equal(t, http.StatusInternalServerError, r.Status, "%s", r.Body)
	assert.Equal(t, "server_error", r.ErrorCode())
	assert.NotContains(t, string(r.Body), addr, "the cause is logged, not shown")
	assert.Equal(t, http.StatusInternalServerError, s.Do("GET", "/auth/sessions", tok.AccessToken, nil).Status)
	assert.Equal(t, http.StatusInternalServerError, s.Do("POST", "/auth/logout-all", tok.AccessToken, nil).Status)
	r = s.Do("POST", "/auth/login", "", map[string]string{"username": "demo", "password": "demo"})
	assert.Equal(t, http.StatusInternalServerError, r.Status, "%s", r.Body)
	assert.Equal(t, http.StatusServiceUnavailable, s.Do("GET", "/healthz", "", nil).Status)
	assert.Equal(t, http.StatusServiceUnavailable, s.Do("HEAD", "/healthz", "", nil).Status)
}

// testStoreHung: the Redis stops answering but keeps its port open (a
// SIGSTOPped server, as a hung or partitioned one looks). Refresh answers
// 500 within the request timeout instead of hanging. Skipped without a
// redis-server binary.
func testStoreHung(t *testing.T, h NewHandler) {
	srv := redistest.StartServer(t)
	s := Start(t, h, func(c *app.Config) {
		c.RedisURL = "redis://" + srv.Addr
		c.KeyPrefix = ""
		// Short, to keep the test quick; long enough that the login before
		// the pause does not time out on a loaded machine.
		c.RequestTimeout = time.Second
	})
	tok := s.Login("demo", "demo")
	srv.Pause()
	defer srv.Resume()
	began := time.Now()
	r := s.Refresh(tok.RefreshToken)
	assert.Equal(t, http.StatusInternalServerError, r.Status, "%s", r.Body)
	assert.Equal(t, http.StatusInternalServerError, s.Do("GET", "/auth/sessions", tok.AccessToken, nil).Status)
	t.Logf("two requests against a hung Redis took %s", time.Since(began))
	srv.Resume()
}
