package app

import (
	"context"
	"log/slog"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/sytefy/kit/sessions"
)

// A User-Agent header is bytes: one that is not valid UTF-8 (or is long)
// still logs in, and the session keeps a cleaned-up copy.
func TestLoginCleansUserAgent(t *testing.T) {
	users, err := NewUsers(bcrypt.MinCost)
	require.NoError(t, err)
	tokens, err := NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Now)
	require.NoError(t, err)
	store, err := sessions.NewMemoryStore()
	require.NoError(t, err)
	auth := NewAuth(users, tokens, store, slog.New(slog.DiscardHandler), time.Now, time.Minute, time.Hour)

	for _, ua := range []string{"bad\xff", "\xc3", string(make([]byte, 300)) + "\xe2\x82"} {
		_, err := auth.Login(context.Background(), "demo", "demo", Client{UserAgent: ua})
		require.NoError(t, err, "User-Agent %q", ua)
	}
	list, err := store.ListForUser(context.Background(), "u-demo")
	require.NoError(t, err)
	require.Len(t, list, 3)
	for _, s := range list {
		ua := s.Meta["user_agent"]
		assert.True(t, utf8.ValidString(ua), "%q", ua)
		assert.LessOrEqual(t, len(ua), 256)
	}
}
