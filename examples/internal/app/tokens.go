package app

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token uses, in the "token_use" claim: an access token is never accepted
// where a refresh token is expected, nor the other way round.
const (
	useAccess  = "access"
	useRefresh = "refresh"
)

// Claims are the claims of both tokens: "sub" (user ID), "jti" (token ID),
// "iat", "exp", "token_use" and, in an access token, "sid": the ID of the
// refresh session it was issued with, so that revoking that session (logout,
// logout-all, reuse detection) ends the access token too.
type Claims struct {
	jwt.RegisteredClaims
	Use       string `json:"token_use"`
	SessionID string `json:"sid,omitempty"`
}

// Tokens issues and verifies HS256 JWTs. It is safe for concurrent use.
type Tokens struct {
	key    []byte
	now    func() time.Time
	parser *jwt.Parser
}

// NewTokens returns Tokens signing with key (at least MinSecretLen bytes)
// and reading the time from now.
func NewTokens(key []byte, now func() time.Time) (*Tokens, error) {
	if len(key) < MinSecretLen {
		return nil, fmt.Errorf("%w: JWT key is %d bytes, want at least %d", ErrConfig, len(key), MinSecretLen)
	}
	return &Tokens{
		key: key,
		now: now,
		// Only HS256: a token whose header names another algorithm ("none",
		// RS256 with our secret as a public key, ...) is rejected before its
		// signature is looked at (RFC 8725 §3.1).
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(now),
		),
	}, nil
}

// NewID returns a random token or entity ID: 128 bits, URL-safe base64.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// IssueAccess returns an access token for userID, bound to the refresh
// session sessionID, valid for ttl from now.
func (t *Tokens) IssueAccess(userID, sessionID string, ttl time.Duration) (string, error) {
	now := t.now()
	return t.sign(Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID,
			ID:        NewID(),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Use:       useAccess,
		SessionID: sessionID,
	})
}

// IssueRefresh returns the refresh token of a session: "jti" is its ID,
// "iat" and "exp" its issue and expiry times. The same session always
// gives the same token, so a lost response can be answered again.
func (t *Tokens) IssueRefresh(userID, id string, issuedAt, expiresAt time.Time) (string, error) {
	return t.sign(Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID,
			ID:        id,
			IssuedAt:  jwt.NewNumericDate(issuedAt),
			ExpiresAt: jwt.NewNumericDate(expiresAt),
		},
		Use: useRefresh,
	})
}

func (t *Tokens) sign(c Claims) (string, error) {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// ParseAccess verifies an access token and returns its claims, or an error
// wrapping ErrUnauthorized.
func (t *Tokens) ParseAccess(token string) (Claims, error) {
	c, err := t.parse(token, useAccess)
	if err == nil && c.SessionID == "" {
		err = fmt.Errorf("%w: access token has no sid", ErrUnauthorized)
	}
	return c, err
}

// ParseRefresh verifies a refresh token and returns its claims, or an
// error wrapping ErrUnauthorized.
func (t *Tokens) ParseRefresh(token string) (Claims, error) {
	return t.parse(token, useRefresh)
}

func (t *Tokens) parse(token, use string) (Claims, error) {
	var c Claims
	_, err := t.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.key, nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Claims{}, fmt.Errorf("%w: %s token expired", ErrUnauthorized, use)
	case err != nil:
		return Claims{}, fmt.Errorf("%w: invalid %s token", ErrUnauthorized, use)
	case c.Use != use:
		return Claims{}, fmt.Errorf("%w: wrong token type, want token_use %q", ErrUnauthorized, use)
	case c.Subject == "" || c.ID == "":
		return Claims{}, fmt.Errorf("%w: %s token lacks sub or jti", ErrUnauthorized, use)
	}
	return c, nil
}
