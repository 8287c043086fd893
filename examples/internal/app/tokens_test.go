package app

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestTokensRoundTrip(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tok, err := NewTokens(testKey, func() time.Time { return now })
	require.NoError(t, err)

	access, err := tok.IssueAccess("u1", "sess1", 15*time.Minute)
	require.NoError(t, err)
	c, err := tok.ParseAccess(access)
	require.NoError(t, err)
	assert.Equal(t, "u1", c.Subject)
	assert.Equal(t, "sess1", c.SessionID)
	assert.NotEmpty(t, c.ID, "jti")
	assert.Equal(t, now, c.IssuedAt.Time.UTC())
	assert.Equal(t, now.Add(15*time.Minute), c.ExpiresAt.Time.UTC())

	refresh, err := tok.IssueRefresh("u1", "sess1", now, now.Add(time.Hour))
	require.NoError(t, err)
	again, err := tok.IssueRefresh("u1", "sess1", now, now.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, refresh, again, "a session always gives the same refresh token")
	c, err = tok.ParseRefresh(refresh)
	require.NoError(t, err)
	assert.Equal(t, "sess1", c.ID)

	_, err = tok.ParseRefresh(access)
	assert.ErrorIs(t, err, ErrUnauthorized, "an access token is not a refresh token")
	_, err = tok.ParseAccess(refresh)
	assert.ErrorIs(t, err, ErrUnauthorized, "a refresh token is not an access token")
}

func TestTokensRejectBadTokens(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := now
	tok, err := NewTokens(testKey, func() time.Time { return clock })
	require.NoError(t, err)
	valid := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject: "u1", ID: "j1",
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		},
		Use: useRefresh,
	}
	sign := func(m jwt.SigningMethod, key any, c Claims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		require.NoError(t, err)
		return s
	}
	// The same claims and key, but HS512 or "none": only HS256 is accepted
	// (RFC 8725 §3.1), whatever the header says.
	good := sign(jwt.SigningMethodHS256, testKey, valid)
	_, err = tok.ParseRefresh(good)
	require.NoError(t, err)

	noExp := valid
	noExp.ExpiresAt = nil
	noSub := valid
	noSub.Subject = ""
	other := valid
	other.Subject = "u2"
	// tampered carries u2's claims under the signature of u1's token.
	g, o := strings.Split(good, "."), strings.Split(sign(jwt.SigningMethodHS256, testKey, other), ".")
	tampered := g[0] + "." + o[1] + "." + g[2]
	for name, token := range map[string]string{
		"HS512":     sign(jwt.SigningMethodHS512, testKey, valid),
		"none":      sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid),
		"other key": sign(jwt.SigningMethodHS256, []byte("another key, also 32 bytes long!"), valid),
		"no exp":    sign(jwt.SigningMethodHS256, testKey, noExp),
		"no sub":    sign(jwt.SigningMethodHS256, testKey, noSub),
		"tampered":  tampered,
		"not a JWT": "abc",
		"empty":     "",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tok.ParseRefresh(token)
			assert.ErrorIs(t, err, ErrUnauthorized)
		})
	}

	clock = now.Add(2 * time.Hour)
	_, err = tok.ParseRefresh(good)
	assert.ErrorIs(t, err, ErrUnauthorized)
	assert.Contains(t, err.Error(), "expired")
}

func TestNewTokensNeedsALongKey(t *testing.T) {
	_, err := NewTokens([]byte("short"), time.Now)
	assert.True(t, errors.Is(err, ErrConfig))
}
