package e2e

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// testRouting: the four routers answer alike where their defaults differ.
// Every case comes before authentication, so no token is sent.
func testRouting(t *testing.T, h NewHandler) {
	s := Start(t, h, nil)

	// A load balancer may probe with HEAD: the health check answers it as
	// GET, without the body (net/http's "GET" patterns take HEAD; the
	// other routers need the route).
	t.Run("HEAD /healthz", func(t *testing.T) {
		get, head := s.Do("GET", "/healthz", "", nil), s.Do("HEAD", "/healthz", "", nil)
		assert.Equal(t, http.StatusOK, head.Status)
		assert.Equal(t, get.Header.Get("Content-Type"), head.Header.Get("Content-Type"))
		assert.Empty(t, head.Body)
	})

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
}
