package sessions

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/sytefy/kit/internal/keyprefix"
)

// Option configures a store (NewMemoryStore, NewRedisStore). Options a
// backend does not use are accepted and ignored (WithKeyPrefix on the
// memory store), so one option list can build either backend. Nil options
// are ignored. An option given twice takes the last value.
type Option func(*options) error

type options struct {
	prefix     string
	grace      time.Duration
	maxPerUser int
	logger     *slog.Logger
	clock      func() time.Time
	observer   Observer
}

// Defaults of the options, and limits of the Session fields.
const (
	// DefaultKeyPrefix is the Redis key prefix: keys look like
	// "refresh:{user}:jti".
	DefaultKeyPrefix = "refresh"
	// DefaultMaxSessionsPerUser is how many live sessions a user may have
	// (WithMaxSessionsPerUser). The bound also bounds the work of the Lua
	// scripts that walk a user's index (RevokeAllForUser, reuse
	// detection), which block Redis while they run.
	DefaultMaxSessionsPerUser = 1000
	// MaxSessionsPerUserLimit is the largest WithMaxSessionsPerUser accepts,
	// in sessions.
	MaxSessionsPerUserLimit = 100_000
	// MaxRotationGrace is the longest WithRotationGrace accepts: a long
	// grace lets a stolen token be replayed unnoticed for that long.
	MaxRotationGrace = 10 * time.Minute
	// MaxIDLen is the longest ID, UserID and FamilyID, in bytes.
	MaxIDLen = 256
	// MaxMetaEntries is the most entries Session.Meta may hold.
	MaxMetaEntries = 16
	// MaxMetaKeyLen is the longest Session.Meta key, in bytes.
	MaxMetaKeyLen = 64
	// MaxMetaBytes is the most bytes of keys and values Session.Meta may
	// hold in all.
	MaxMetaBytes = 4 << 10
)

func newOptions(opts []Option) (*options, error) {
	o := &options{
		prefix:     DefaultKeyPrefix,
		maxPerUser: DefaultMaxSessionsPerUser,
		logger:     slog.New(slog.DiscardHandler),
		clock:      time.Now,
		observer:   nopObserver{},
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func invalidOption(format string, args ...any) error {
	return fmt.Errorf("%w: option "+format, append([]any{ErrInvalid}, args...)...)
}

// WithKeyPrefix sets the prefix of every Redis key, so that applications
// sharing a Redis stay apart. It must be 1..64 bytes of letters, digits,
// '.', '_' and '-' ('{', '}' and ':' would break the key layout).
// Default: "refresh".
func WithKeyPrefix(prefix string) Option {
	return func(o *options) error {
		if err := keyprefix.Check(prefix); err != nil {
			return invalidOption("WithKeyPrefix: %v", err)
		}
		o.prefix = prefix
		return nil
	}
}

// WithRotationGrace sets the rotation grace period (0..MaxRotationGrace):
// for this long after a session is rotated, presenting it again returns
// the successor already created instead of reporting reuse, provided that
// successor is still the current session. It covers a client whose first
// refresh response was lost. A few seconds is plenty. Default: 0 (every
// second presentation is reuse).
//
// The grace is counted in whole milliseconds (d is truncated), by the
// clock of the instance the token is presented to (WithClock) against the
// rotation time the rotating instance recorded. A presentation whose clock
// reads more than the grace before that time is reuse too, so an instance
// whose clock is far behind never stretches the grace: keep the clocks of
// the instances within a fraction of it of each other (NTP does).
func WithRotationGrace(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 || d > MaxRotationGrace {
			return invalidOption("WithRotationGrace: %s, want 0..%s", d, MaxRotationGrace)
		}
		o.grace = d.Truncate(time.Millisecond)
		return nil
	}
}

// WithMaxSessionsPerUser sets how many live sessions a user may have
// (1..MaxSessionsPerUserLimit): remembering one more evicts the one that
// expires first, which the Observer hears as an EventEvicted (and the
// logger at DEBUG). An evicted session leaves no tombstone: its ID may be
// remembered again. Default: DefaultMaxSessionsPerUser (1000).
func WithMaxSessionsPerUser(n int) Option {
	return func(o *options) error {
		if n < 1 || n > MaxSessionsPerUserLimit {
			return invalidOption("WithMaxSessionsPerUser: %d, want 1..%d", n, MaxSessionsPerUserLimit)
		}
		o.maxPerUser = n
		return nil
	}
}

// WithLogger sets the logger. Records carry user_id and, instead of any
// token or family ID, its short hash (jti_hash, family_hash): the first 8
// hex digits of its SHA-256. Reuse and corrupt values are logged at WARN,
// backend failures and evictions at DEBUG. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return invalidOption("WithLogger: nil logger")
		}
		o.logger = l
		return nil
	}
}

// WithClock sets the clock behind every "now" the store decides:
// validation, expiry checks, pruning, the rotation grace, and the memory
// store's expiry. The Redis store sends its readings to Redis in Unix
// milliseconds; Redis's own clock only drives key TTLs. A session key and
// its user's index expire at the session's expiry by Redis's clock (PXAT,
// PEXPIREAT: one clock for both, so the index always outlives the keys it
// finds), so a store whose clock runs d behind Redis's finds a session
// gone up to d before its ExpiresAt: it fails closed, never late. A
// rotated or revoked session's tombstone lasts until its expiry by both
// clocks, so reuse detection, and the refusal to remember a revoked ID,
// hold on either. Default: time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return invalidOption("WithClock: nil clock")
		}
		o.clock = now
		return nil
	}
}

// WithObserver sets an Observer that receives an Event for every state
// change and backend failure, for metrics. Default: none; a nil Observer
// (a typed nil included) is refused with an error wrapping ErrInvalid:
// leave the option out instead.
func WithObserver(obs Observer) Option {
	return func(o *options) error {
		if isNilValue(obs) {
			return invalidOption("WithObserver: nil observer")
		}
		o.observer = obs
		return nil
	}
}
