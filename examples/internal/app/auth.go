package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sytefy/kit/sessions"
)

// TokenResponse is the OAuth 2.0 successful token response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"` // access token lifetime, seconds
	RefreshToken string `json:"refresh_token"`
}

// Principal is the authenticated caller of a protected route.
type Principal struct {
	UserID string
	// SessionID is the refresh session the access token was issued with.
	SessionID string
}

// Client describes the device a request came from; it is stored as the
// session's metadata.
type Client struct {
	UserAgent string
	IP        string
}

// SessionInfo is one of a user's active sessions as GET /auth/sessions
// shows it. ID is a short hash of the session ID, never the ID itself: the
// ID is the refresh token's jti, and what is shown should not help forge or
// find a token.
type SessionInfo struct {
	ID        string    `json:"id"`
	Current   bool      `json:"current"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UserAgent string    `json:"user_agent,omitempty"`
	IP        string    `json:"ip,omitempty"`
}

// Auth is the authentication service: login, refresh token rotation with
// reuse detection, logout, logout everywhere, and access-token checks, on a
// sessions.Store. It is safe for concurrent use.
type Auth struct {
	users      *Users
	tokens     *Tokens
	store      sessions.Store
	log        *slog.Logger
	now        func() time.Time
	accessTTL  time.Duration
	refreshTTL time.Duration
}

// NewAuth returns the service. accessTTL and refreshTTL are the tokens'
// lifetimes; now is the clock (time.Now outside tests).
func NewAuth(users *Users, tokens *Tokens, store sessions.Store, log *slog.Logger, now func() time.Time, accessTTL, refreshTTL time.Duration) *Auth {
	return &Auth{users: users, tokens: tokens, store: store, log: log, now: now, accessTTL: accessTTL, refreshTTL: refreshTTL}
}

// Login checks the password and starts a refresh session. It returns an
// error wrapping ErrUnauthorized for wrong credentials, or the store's
// error (sessions.ErrUnavailable when it is down).
func (a *Auth) Login(ctx context.Context, username, password string, c Client) (TokenResponse, error) {
	user, err := a.users.Check(username, password)
	if err != nil {
		return TokenResponse{}, err
	}
	s := a.newSession(user.ID, c)
	if err := a.store.Remember(ctx, s); err != nil {
		return TokenResponse{}, fmt.Errorf("remember session: %w", err)
	}
	a.log.InfoContext(ctx, "login", "user_id", user.ID, "session", Fingerprint(s.ID))
	return a.issue(s)
}

// Refresh rotates a refresh token: the old one is spent and a new pair is
// returned. A token that is not active returns an error wrapping
// sessions.ErrNotActive; one that was already rotated is reuse (a stolen
// token, or a client that retried): the store revokes its whole family
// and the error wraps sessions.ErrReuseDetected (RFC 9700 §4.14.2). Of
// concurrent refreshes with one token exactly one succeeds.
func (a *Auth) Refresh(ctx context.Context, refreshToken string, c Client) (TokenResponse, error) {
	claims, err := a.tokens.ParseRefresh(refreshToken)
	if err != nil {
		return TokenResponse{}, err
	}
	next, err := a.store.Rotate(ctx, claims.Subject, claims.ID, a.newSession(claims.Subject, c))
	if err != nil {
		a.log.InfoContext(ctx, "refresh refused", "user_id", claims.Subject, "session", Fingerprint(claims.ID), "err", err)
		return TokenResponse{}, fmt.Errorf("rotate session: %w", err)
	}
	// With a rotation grace (sessions.WithRotationGrace; this example sets
	// none, so that replaying a token shows reuse detection at once) the
	// store may answer with the successor it created for an earlier, lost
	// response; issue exactly that session.
	return a.issue(next)
}

// Logout revokes the session of one refresh token; for a token already
// rotated, the store ends the login it belongs to (sessions.Store.Revoke).
// Revoking a session that is already revoked or expired succeeds (the
// store's Revoke is idempotent); a token that does not verify returns
// ErrUnauthorized.
func (a *Auth) Logout(ctx context.Context, refreshToken string) error {
	claims, err := a.tokens.ParseRefresh(refreshToken)
	if err != nil {
		return err
	}
	if err := a.store.Revoke(ctx, claims.Subject, claims.ID); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	a.log.InfoContext(ctx, "logout", "user_id", claims.Subject, "session", Fingerprint(claims.ID))
	return nil
}

// LogoutAll revokes every session of the user ("log out everywhere") and
// returns how many were active. Every refresh token, and every access token
// issued with one, is refused afterwards, on every instance.
func (a *Auth) LogoutAll(ctx context.Context, p Principal) (int, error) {
	n, err := a.store.RevokeAllForUser(ctx, p.UserID)
	if err != nil {
		return 0, fmt.Errorf("revoke all sessions: %w", err)
	}
	a.log.InfoContext(ctx, "logout everywhere", "user_id", p.UserID, "revoked", n)
	return n, nil
}

// Sessions lists the user's active sessions, soonest expiry first as the
// store returns them.
func (a *Auth) Sessions(ctx context.Context, p Principal) ([]SessionInfo, error) {
	list, err := a.store.ListForUser(ctx, p.UserID)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	out := make([]SessionInfo, 0, len(list))
	for _, s := range list {
		out = append(out, SessionInfo{
			ID:        Fingerprint(s.ID),
			Current:   s.ID == p.SessionID,
			IssuedAt:  s.IssuedAt.UTC(),
			ExpiresAt: s.ExpiresAt.UTC(),
			UserAgent: s.Meta["user_agent"],
			IP:        s.Meta["ip"],
		})
	}
	return out, nil
}

// Authenticate verifies an access token and that the session it was issued
// with is still active, so logout and reuse detection end access tokens at
// once rather than at their expiry. It fails closed: a store error is
// returned (wrapping sessions.ErrUnavailable), never a Principal.
func (a *Auth) Authenticate(ctx context.Context, accessToken string) (Principal, error) {
	claims, err := a.tokens.ParseAccess(accessToken)
	if err != nil {
		return Principal{}, err
	}
	active, err := a.store.IsActive(ctx, claims.Subject, claims.SessionID)
	if err != nil {
		return Principal{}, fmt.Errorf("check session: %w", err)
	}
	if !active {
		return Principal{}, fmt.Errorf("%w: session ended", ErrUnauthorized)
	}
	return Principal{UserID: claims.Subject, SessionID: claims.SessionID}, nil
}

// newSession is a fresh session for userID. Its times are whole seconds,
// as the JWT's "iat" and "exp" are, so token and session expire together.
func (a *Auth) newSession(userID string, c Client) sessions.Session {
	now := a.now().Truncate(time.Second)
	meta := map[string]string{}
	if c.UserAgent != "" {
		// A header is bytes, not text: the store takes valid UTF-8 only.
		meta["user_agent"] = truncate(strings.ToValidUTF8(c.UserAgent, "\uFFFD"), 256)
	}
	if c.IP != "" {
		meta["ip"] = truncate(c.IP, 64)
	}
	return sessions.Session{
		ID:        NewID(),
		UserID:    userID,
		IssuedAt:  now,
		ExpiresAt: now.Add(a.refreshTTL),
		Meta:      meta,
	}
}

func (a *Auth) issue(s sessions.Session) (TokenResponse, error) {
	access, err := a.tokens.IssueAccess(s.UserID, s.ID, a.accessTTL)
	if err != nil {
		return TokenResponse{}, err
	}
	refresh, err := a.tokens.IssueRefresh(s.UserID, s.ID, s.IssuedAt, s.ExpiresAt)
	if err != nil {
		return TokenResponse{}, err
	}
	return TokenResponse{
		AccessToken:  access,
		TokenType:    "Bearer",
		ExpiresIn:    int(a.accessTTL / time.Second),
		RefreshToken: refresh,
	}, nil
}

// Fingerprint is a short hash of a token or session ID, for logs and
// listings: never write the ID itself (OWASP logging cheat sheet).
func Fingerprint(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:6])
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence,
// so a long User-Agent does not push the session's metadata over the
// store's limit.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
