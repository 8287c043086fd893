package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/sytefy/kit/sessions"
)

// Response is what a route answers: a status, extra headers, and a body
// written as JSON (none when Body is nil).
type Response struct {
	Status int
	Header map[string]string
	Body   any
}

// ErrorBody is the JSON body of every error response. The names follow
// OAuth 2.0 (RFC 6749 §5.2, RFC 6750 §3.1): a machine-readable code and a
// sentence for people.
type ErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// Error turns err into its Response (status from Status). A 500's cause is
// logged, not shown: the body says only that the server failed.
func (a *API) Error(ctx context.Context, err error) Response {
	status := Status(err)
	r := Response{Status: status, Body: ErrorBody{Error: code(status), Description: describe(status, err)}}
	switch status {
	case http.StatusUnauthorized:
		// RFC 6750 §3: a 401 names the scheme the client should use, and
		// (§3.1) carries no error code when the request had no token.
		// The body's code follows: a request without a token gets
		// "unauthorized", which is no RFC code, rather than one that
		// says its token was invalid.
		challenge := `Bearer error="invalid_token"`
		if errors.Is(err, errNoBearer) {
			challenge = "Bearer"
			r.Body = ErrorBody{Error: "unauthorized", Description: describe(status, err)}
		}
		r.Header = map[string]string{"WWW-Authenticate": challenge}
	case http.StatusInternalServerError:
		a.log.ErrorContext(ctx, "request failed", "err", err)
	}
	return r
}

// grantError is Error for the token endpoint's grants (Login, Refresh): a
// refused grant (wrong credentials; a refresh token that is invalid,
// expired, spent or revoked) is 400 invalid_grant, as RFC 6749 §5.2 has
// it, not the resource server's 401 invalid_token (RFC 6750 §3.1), and
// carries no Bearer challenge: the client sent no bearer token. Other
// errors are Error's.
func (a *API) grantError(ctx context.Context, err error) Response {
	if Status(err) != http.StatusUnauthorized {
		return a.Error(ctx, err)
	}
	return Response{Status: http.StatusBadRequest,
		Body: ErrorBody{Error: "invalid_grant", Description: describe(http.StatusUnauthorized, err)}}
}

func code(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request"
	case http.StatusUnauthorized:
		return "invalid_token"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	default:
		return "server_error"
	}
}

func describe(status int, err error) string {
	switch {
	case status == http.StatusInternalServerError:
		return "the server could not complete the request; try again later"
	case errors.Is(err, sessions.ErrReuseDetected):
		return "refresh token reuse detected: every session of this login is revoked"
	case errors.Is(err, sessions.ErrNotActive):
		return "refresh token is not active"
	}
	return err.Error()
}

// JSON returns a Response with status and body.
func JSON(status int, body any) Response { return Response{Status: status, Body: body} }

// Write writes r to w, for net/http and chi; gin and echo write it with
// their own context's methods.
func Write(w http.ResponseWriter, r Response) {
	for k, v := range r.Header {
		w.Header().Set(k, v)
	}
	if r.Body == nil {
		w.WriteHeader(r.Status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.Status)
	_ = json.NewEncoder(w).Encode(r.Body) // the client went away: nothing to do
}
