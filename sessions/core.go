package sessions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"
)

// core is what both stores share: options, events and logging.
type core struct {
	o *options
}

func (c core) now() time.Time { return c.o.clock() }

// unavailable wraps a backend failure or an ended context in
// ErrUnavailable (and the cause), reports it, and returns it.
func (c core) unavailable(ctx context.Context, op string, err error) error {
	err = fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
	c.o.observer.ObserveSession(Event{Type: EventBackendError, Err: err})
	c.o.logger.LogAttrs(ctx, slog.LevelDebug, "sessions: backend unavailable",
		slog.String("op", op), slog.String("err", err.Error()))
	return err
}

func (c core) observe(t EventType, count int) {
	c.o.observer.ObserveSession(Event{Type: t, Count: count})
}

// corrupt reports a stored value that is not a session of its key's user.
// Such a session is treated as inactive.
func (c core) corrupt(ctx context.Context, op, userID, id string, reason error) {
	c.o.logger.LogAttrs(ctx, slog.LevelWarn, "sessions: corrupt stored session treated as inactive",
		slog.String("op", op), slog.String("user_id", userID), slog.String("jti_hash", hashID(id)),
		slog.String("reason", reason.Error()))
}

// reuse reports a refresh token presented again after its rotation.
func (c core) reuse(ctx context.Context, userID, id, family string, revoked int) error {
	c.o.logger.LogAttrs(ctx, slog.LevelWarn, "sessions: refresh token reuse detected; family revoked",
		slog.String("user_id", userID), slog.String("jti_hash", hashID(id)),
		slog.String("family_hash", hashID(family)), slog.Int("revoked", revoked))
	c.observe(EventReuseDetected, revoked)
	noun := "sessions"
	if revoked == 1 {
		noun = "session"
	}
	return fmt.Errorf("%w: %d active %s of the family revoked", ErrReuseDetected, revoked, noun)
}

// evicted reports the n sessions Remember evicted over the per-user limit
// (WithMaxSessionsPerUser): a DEBUG record and an EventEvicted, none when
// n is 0.
func (c core) evicted(ctx context.Context, userID string, n int) {
	if n > 0 {
		c.o.logger.LogAttrs(ctx, slog.LevelDebug, "sessions: evicted sessions over the per-user limit",
			slog.String("user_id", userID), slog.Int("evicted", n), slog.Int("limit", c.o.maxPerUser))
		c.observe(EventEvicted, n)
	}
}

// hashID is what logs carry instead of a token or family ID: the first 8
// hex digits of its SHA-256, enough to correlate log lines, useless to
// present as a token (OWASP Logging Cheat Sheet).
func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:4])
}
