package api

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/sytefy/kit/examples/internal/app"
)

// API holds the services behind the routes. Its methods are the routes'
// behaviour; each bounds its backend calls by the request timeout. It is
// safe for concurrent use.
type API struct {
	auth    *app.Auth
	appts   *app.Appointments
	pays    *app.Payments
	health  func(context.Context) error
	log     *slog.Logger
	timeout time.Duration
	metrics http.Handler
}

// New returns the API. health reports whether the backends answer (nil
// means healthy); timeout bounds the backend calls of one request;
// metrics serves GET /metrics.
func New(auth *app.Auth, appts *app.Appointments, pays *app.Payments, health func(context.Context) error,
	log *slog.Logger, timeout time.Duration, metrics http.Handler) *API {
	return &API{auth: auth, appts: appts, pays: pays, health: health, log: log, timeout: timeout, metrics: metrics}
}

// Metrics is GET /metrics: the Prometheus exposition of the library's
// session and reminder metrics and the Go runtime's. Routers mount it as
// it is (it is already an http.Handler).
func (a *API) Metrics() http.Handler { return a.metrics }

// ClientOf describes the request's client for the session's metadata: the
// User-Agent, and the IP of the TCP peer. Behind a reverse proxy that is
// the proxy; use its forwarding header only when the proxy is trusted to
// set it (a client can write any X-Forwarded-For it likes).
func ClientOf(r *http.Request) app.Client {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return app.Client{UserAgent: r.UserAgent(), IP: ip}
}

// tokenHeaders are the headers of a token response (RFC 6749 §5.1).
var tokenHeaders = map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache"}

// Login is POST /auth/login {"username", "password"}: 200 with a token
// response, 400 invalid_grant for wrong credentials (see grantError).
func (a *API) Login(ctx context.Context, body io.Reader, c app.Client) Response {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decode(body, &req); err != nil {
		return a.Error(ctx, err)
	}
	if err := firstErr(required("username", req.Username), required("password", req.Password)); err != nil {
		return a.Error(ctx, err)
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	tok, err := a.auth.Login(ctx, req.Username, req.Password, c)
	if err != nil {
		return a.grantError(ctx, err)
	}
	return Response{Status: http.StatusOK, Header: tokenHeaders, Body: tok}
}

// Refresh is POST /auth/refresh {"refresh_token"}: 200 with a new token
// response (the old refresh token is spent), 400 invalid_grant when the
// token is not active or was already used (reuse: its family is revoked;
// see grantError), 500 when the store fails.
func (a *API) Refresh(ctx context.Context, body io.Reader, c app.Client) Response {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := decode(body, &req); err != nil {
		return a.Error(ctx, err)
	}
	if err := required("refresh_token", req.RefreshToken); err != nil {
		return a.Error(ctx, err)
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	tok, err := a.auth.Refresh(ctx, req.RefreshToken, c)
	if err != nil {
		return a.grantError(ctx, err)
	}
	return Response{Status: http.StatusOK, Header: tokenHeaders, Body: tok}
}

// Logout is POST /auth/logout {"refresh_token"}: 204 once that session is
// revoked (for a token already rotated, the login it belongs to: see
// sessions.Store.Revoke), also when it already was, and when the token is
// not a valid refresh token (expired, forged, an access token): there is
// nothing to revoke, and RFC 7009 §2.2 answers an invalid token with
// success, since the client could do nothing about an error. 500 when the
// store fails.
func (a *API) Logout(ctx context.Context, body io.Reader) Response {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := decode(body, &req); err != nil {
		return a.Error(ctx, err)
	}
	if err := required("refresh_token", req.RefreshToken); err != nil {
		return a.Error(ctx, err)
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	if err := a.auth.Logout(ctx, req.RefreshToken); err != nil && Status(err) != http.StatusUnauthorized {
		return a.Error(ctx, err)
	}
	return Response{Status: http.StatusNoContent}
}

// LogoutAll is POST /auth/logout-all (authenticated): 200 {"revoked": n}
// once every session of the user is revoked.
func (a *API) LogoutAll(ctx context.Context, p app.Principal) Response {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	n, err := a.auth.LogoutAll(ctx, p)
	if err != nil {
		return a.Error(ctx, err)
	}
	return JSON(http.StatusOK, map[string]int{"revoked": n})
}

// Sessions is GET /auth/sessions (authenticated): 200 {"sessions": [...]}.
func (a *API) Sessions(ctx context.Context, p app.Principal) Response {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	list, err := a.auth.Sessions(ctx, p)
	if err != nil {
		return a.Error(ctx, err)
	}
	return JSON(http.StatusOK, map[string][]app.SessionInfo{"sessions": list})
}

// Authenticate checks an Authorization header ("Bearer <access_token>",
// RFC 6750 §2.1) and returns the caller. Every framework's middleware calls
// it, and on an error answers a.Error(ctx, err): 401, or 500 when the
// session store fails (fail closed).
func (a *API) Authenticate(ctx context.Context, authorization string) (app.Principal, error) {
	token, err := bearerToken(authorization)
	if err != nil {
		return app.Principal{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	return a.auth.Authenticate(ctx, token)
}

// Health is GET and HEAD /healthz: 200 {"status": "ok"} when the backends
// answer, 503 otherwise (for HEAD the server sends no body).
func (a *API) Health(ctx context.Context) Response {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	if err := a.health(ctx); err != nil {
		a.log.WarnContext(ctx, "health check failed", "err", err)
		return JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
	}
	return JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// PathParam is raw, a path parameter of r as chi or Echo gives it, decoded
// as net/http and Gin give theirs. Those two routers match the escaped path
// only when there is one (URL.RawPath, set when the path's encoding is not
// the default one), and their parameters are then raw; otherwise they
// match the decoded path, and decoding again would turn "%2564" into "d".
// net/http has answered 400 to a bad escape before routing; one left stays
// as it is.
func PathParam(r *http.Request, raw string) string {
	if r.URL.RawPath == "" {
		return raw
	}
	if v, err := url.PathUnescape(raw); err == nil {
		return v
	}
	return raw
}
