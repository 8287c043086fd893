package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testRouting: the four routers answer alike where their defaults differ.
// The 404 and 405 cases come before authentication, so no token is sent.
func testRouting(t *testing.T, h NewHandler) {
	s := Start(t, h, nil)

	// HEAD is answered as GET, without the body, on every GET route
	// (net/http's "GET" patterns take HEAD; the other routers need it
	// said): a load balancer may probe with it.
	tok := s.Login("demo", "demo")
	for _, path := range []string{"/healthz", "/metrics", "/auth/sessions"} {
		t.Run("HEAD "+path, func(t *testing.T) {
			get, head := s.Do("GET", path, tok.AccessToken, nil), s.Do("HEAD", path, tok.AccessToken, nil)
			assert.Equal(t, http.StatusOK, get.Status)
			assert.Equal(t, http.StatusOK, head.Status)
			assert.Equal(t, get.Header.Get("Content-Type"), head.Header.Get("Content-Type"))
			assert.Empty(t, head.Body)
		})
	}

	// A method a known path does not take is the router's own 405. A path
	// with a trailing slash is another, unknown path: 404, not a redirect
	// to the route without it (Gin's default), and after a final path
	// parameter too (Echo's takes the rest of the path, slashes included).
	for _, tc := range []struct {
		what, method, path string
		want               int
	}{
		{"method", "PATCH", "/appointments/x", http.StatusMethodNotAllowed},
		{"method", "GET", "/auth/login", http.StatusMethodNotAllowed},
		{"method", "DELETE", "/payments", http.StatusMethodNotAllowed},
		{"trailing slash", "GET", "/healthz/", http.StatusNotFound},
		{"trailing slash", "GET", "/auth/sessions/", http.StatusNotFound},
		{"trailing slash", "POST", "/auth/login/", http.StatusNotFound},
		{"trailing slash", "POST", "/appointments/", http.StatusNotFound},
		{"trailing slash", "POST", "/payments/", http.StatusNotFound},
		{"trailing slash", "PUT", "/appointments/x/", http.StatusNotFound},
		{"trailing slash", "DELETE", "/appointments/x/", http.StatusNotFound},
		{"two segments", "DELETE", "/appointments/x/y", http.StatusNotFound},
	} {
		t.Run(tc.what+" "+tc.method+" "+tc.path, func(t *testing.T) {
			r := s.Do(tc.method, tc.path, "", "")
			assert.Equal(t, tc.want, r.Status, "%s", r.Body)
		})
	}

	// A path parameter is the decoded segment, as net/http and Gin give
	// it; chi and Echo give it raw (they route on the escaped path) and
	// their handlers decode it.
	t.Run("percent-encoded id", func(t *testing.T) {
		create := func() (a Appointment) {
			r := s.Do("POST", "/appointments", tok.AccessToken,
				map[string]string{"title": "t", "at": stamp(time.Now().Add(time.Hour))})
			require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
			r.JSON(t, &a)
			return a
		}
		a := create()
		escaped := fmt.Sprintf("%%%02X%s", a.ID[0], a.ID[1:])
		r := s.Do("PUT", "/appointments/"+escaped, tok.AccessToken,
			map[string]string{"at": stamp(time.Now().Add(2 * time.Hour))})
		assert.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		r = s.Do("DELETE", "/appointments/"+escaped, tok.AccessToken, nil)
		assert.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
		r = s.Do("DELETE", "/appointments/"+a.ID, tok.AccessToken, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, "cancelled already: %s", r.Body)

		// Decoded once: "%25" is "%", so this id is "%XX...", no one's.
		b := create()
		r = s.Do("DELETE", fmt.Sprintf("/appointments/%%25%02X%s", b.ID[0], b.ID[1:]), tok.AccessToken, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, "decoded twice: %s", r.Body)
		r = s.Do("DELETE", "/appointments/"+b.ID, tok.AccessToken, nil)
		assert.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	})
}
