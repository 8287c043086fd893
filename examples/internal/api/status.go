// Package api is the framework-free HTTP layer of the example service:
// each route's behaviour as a function from decoded request parts to a
// Response (status, headers, JSON body), and the one mapping from errors
// to status codes. The net/http, chi, gin and echo programs only route,
// authenticate in their own middleware idiom, and write the Response.
package api

import (
	"errors"
	"net/http"

	"github.com/sytefy/kit/examples/internal/app"
	"github.com/sytefy/kit/reminders"
	"github.com/sytefy/kit/sessions"
)

// errTooLarge reports a request body over MaxBodyBytes.
var errTooLarge = errors.New("request body too large")

// Status maps an error to its HTTP status code. It fails closed: a
// backend failure, or any error it does not know, is 500, never a 2xx and
// never a 4xx that a client could take for "your token is fine but ...".
//
//	nil                                              200
//	sessions.ErrUnavailable, reminders.ErrUnavailable 500 (checked first)
//	request body over MaxBodyBytes                    413
//	app.ErrInvalid, sessions.ErrInvalid,
//	reminders.ErrInvalid                              400
//	app.ErrUnauthorized, sessions.ErrNotActive,
//	sessions.ErrReuseDetected                         401
//	app.ErrNotFound                                   404
//	anything else                                     500
//
// The token endpoint's grants (Login, Refresh) answer a 401 error with 400
// invalid_grant instead (grantError).
func Status(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, sessions.ErrUnavailable), errors.Is(err, reminders.ErrUnavailable):
		return http.StatusInternalServerError
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, app.ErrInvalid), errors.Is(err, sessions.ErrInvalid), errors.Is(err, reminders.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, app.ErrUnauthorized), errors.Is(err, sessions.ErrNotActive), errors.Is(err, sessions.ErrReuseDetected):
		return http.StatusUnauthorized
	case errors.Is(err, app.ErrNotFound):
		return http.StatusNotFound
	default:
		return http.StatusInternalServerError
	}
}
