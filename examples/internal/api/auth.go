package api

import (
	"context"
	"fmt"
	"strings"

	"github.com/sytefy/kit/examples/internal/app"
)

// errNoBearer reports a request with no bearer token at all: no
// Authorization header, another scheme, or an empty token.
var errNoBearer = fmt.Errorf("%w: send Authorization: Bearer <access_token>", app.ErrUnauthorized)

// bearerToken extracts the token from "Bearer <token>" (RFC 6750 §2.1; the
// scheme is case-insensitive, RFC 9110 §11.1).
func bearerToken(authorization string) (string, error) {
	scheme, token, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", errNoBearer
	}
	return strings.TrimSpace(token), nil
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p, for middleware built on
// context.Context (net/http, chi); gin and echo keep it in their own
// context instead.
func WithPrincipal(ctx context.Context, p app.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the Principal stored by WithPrincipal; ok is false
// on a route the middleware did not guard.
func PrincipalFrom(ctx context.Context) (p app.Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(app.Principal)
	return p, ok
}
