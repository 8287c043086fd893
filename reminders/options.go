package reminders

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/sytefy/kit/internal/keyprefix"
)

// Option configures a scheduler (NewRedisScheduler, NewEagerScheduler,
// NewRedisTickStore). Options that a backend does not use are accepted and
// ignored (WithShards on the eager scheduler, for example), so one option
// list can build either backend. Nil options are ignored. An option given
// twice takes the last value.
type Option func(*options) error

type options struct {
	prefix          string
	concurrency     int
	lease           time.Duration
	maxRetries      int
	backoffMin      time.Duration
	backoffMax      time.Duration
	backoffSet      bool
	shards          int
	maxPayload      int
	shutdownTimeout time.Duration
	logger          *slog.Logger
	observer        Observer
	clock           func() time.Time
}

// Defaults of the options, and limits of the Reminder fields.
const (
	// DefaultKeyPrefix is the Redis key prefix (WithKeyPrefix).
	DefaultKeyPrefix = "reminders"
	// DefaultConcurrency is how many handlers one Run call runs at once
	// (WithConcurrency).
	DefaultConcurrency = 10
	// DefaultLease is the visibility timeout of a claim, 30s (WithLease).
	DefaultLease = 30 * time.Second
	// DefaultMaxRetries is how many times a failed attempt is retried
	// before the reminder is dead-lettered (WithMaxRetries).
	DefaultMaxRetries = 3
	// DefaultBackoffMin is the first retry's backoff ceiling, 1s
	// (WithBackoff).
	DefaultBackoffMin = time.Second
	// DefaultBackoffMax is the largest backoff ceiling, 10 minutes
	// (WithBackoff).
	DefaultBackoffMax = 10 * time.Minute
	// MaxBackoff is the largest maximum WithBackoff accepts, 24h: a
	// reminder is a timely thing, and the cap keeps every backoff
	// computation far from overflowing.
	MaxBackoff = 24 * time.Hour
	// DefaultShards is the number of Redis shards (WithShards).
	DefaultShards = 1
	// DefaultMaxPayload is the largest Reminder.Payload, in bytes: 64 KiB
	// (WithMaxPayload).
	DefaultMaxPayload = 64 << 10
	// DefaultShutdownTimeout is how long Run waits for running handlers
	// after its context ends, 10s (WithShutdownTimeout).
	DefaultShutdownTimeout = 10 * time.Second
	// MaxIDLen is the longest Reminder.ID and Reminder.Kind, in bytes.
	MaxIDLen = 256
	// MaxPayloadLimit is the largest WithMaxPayload accepts: 512 MiB less
	// 1 KiB. A stored record is the payload after a header of up to about
	// 300 bytes (the Kind included), sent to Redis as one string, and Redis
	// refuses a string over its proto-max-bulk-len (512 MB by default,
	// redis.conf) by closing the connection.
	MaxPayloadLimit = 512<<20 - 1<<10
)

func newOptions(opts []Option) (*options, error) {
	o := &options{
		prefix:          DefaultKeyPrefix,
		concurrency:     DefaultConcurrency,
		lease:           DefaultLease,
		maxRetries:      DefaultMaxRetries,
		backoffMin:      DefaultBackoffMin,
		backoffMax:      DefaultBackoffMax,
		shards:          DefaultShards,
		maxPayload:      DefaultMaxPayload,
		shutdownTimeout: DefaultShutdownTimeout,
		logger:          slog.New(slog.DiscardHandler),
		clock:           time.Now,
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
// Default: "reminders".
func WithKeyPrefix(prefix string) Option {
	return func(o *options) error {
		if err := keyprefix.Check(prefix); err != nil {
			return invalidOption("WithKeyPrefix: %v", err)
		}
		o.prefix = prefix
		return nil
	}
}

// WithConcurrency sets how many handlers one Run call runs at once
// (1..10000). Default: 10. A handler's slot is free again when it
// returns; its outcome (ack, retry, dead letter) is then recorded in the
// background. Running handlers and outcomes on their way together stay
// within twice this: a Run holds at most twice this many claims, of
// which at most this many run (and, when none runs, up to twice this
// many outcomes may be on their way).
func WithConcurrency(n int) Option {
	return func(o *options) error {
		if n < 1 || n > 10000 {
			return invalidOption("WithConcurrency: %d, want 1..10000", n)
		}
		o.concurrency = n
		return nil
	}
}

// WithLease sets the visibility timeout of a claim: a worker that stops
// renewing its lease for this long (it crashed or was partitioned) loses
// the reminder, and another worker delivers it again. Running handlers'
// leases are renewed every third of it. At least 1s. Default: 30s.
func WithLease(d time.Duration) Option {
	return func(o *options) error {
		if d < time.Second {
			return invalidOption("WithLease: %s, want at least 1s", d)
		}
		o.lease = d
		return nil
	}
}

// WithMaxRetries sets how many times a failed attempt is retried before the
// reminder is dead-lettered (0..1000): a reminder gets at most n+1
// attempts. Default: 3 (REMINDER_MAX_RETRIES in the examples).
func WithMaxRetries(n int) Option {
	return func(o *options) error {
		if n < 0 || n > 1000 {
			return invalidOption("WithMaxRetries: %d, want 0..1000", n)
		}
		o.maxRetries = n
		return nil
	}
}

// WithBackoff sets the exponential backoff between attempts, with full
// jitter: the delay before retry n (n from 1) is drawn uniformly from
// [0, ceiling], both ends included, where ceiling = min(max, min·2^(n-1)),
// and is raised to 1ms when the draw is smaller. Both backends draw it the
// same way. It needs 0 < min <= max <= MaxBackoff (24h); anything else
// returns an error wrapping ErrInvalid. Default: 1s and 10m. The eager
// scheduler sleeps between attempts only when this option is given.
func WithBackoff(min, max time.Duration) Option {
	return func(o *options) error {
		if min <= 0 || max < min || max > MaxBackoff {
			return invalidOption("WithBackoff: (%s, %s), want 0 < min <= max <= %s", min, max, MaxBackoff)
		}
		o.backoffMin, o.backoffMax, o.backoffSet = min, max, true
		return nil
	}
}

// WithShards spreads reminders over n Redis hash slots by a hash of the
// ID (1..1024), so that a Redis Cluster shares the load. Every worker and
// scheduler of one prefix must use the same n: a reminder stored under a
// shard a worker lacks is never delivered by it, and Cancel and Get with a
// different n look in the wrong shard. A worker that finds reminders
// stored under any of the 64 shards past its n logs an error naming them
// when Run starts. A shard keeps its pending reminders' due index in
// Redis's compact listpack encoding up to about 100,000 of them (1021
// buckets of up to 128, Redis's default zset-max-listpack-entries); past
// that it costs about 130 bytes more per pending reminder, so a shard
// count that keeps each shard under it also saves memory. Default: 1.
func WithShards(n int) Option {
	return func(o *options) error {
		if n < 1 || n > 1024 {
			return invalidOption("WithShards: %d, want 1..1024", n)
		}
		o.shards = n
		return nil
	}
}

// WithMaxPayload sets the largest Reminder.Payload accepted, in bytes
// (1..MaxPayloadLimit). Default: 64 KiB.
func WithMaxPayload(n int) Option {
	return func(o *options) error {
		if n < 1 || n > MaxPayloadLimit {
			return invalidOption("WithMaxPayload: %d, want 1..%d", n, MaxPayloadLimit)
		}
		o.maxPayload = n
		return nil
	}
}

// WithShutdownTimeout sets how long Run waits, after its context ends, for
// running handlers to finish before cancelling their contexts and releasing
// their reminders for other workers. At least 0. Default: 10s.
func WithShutdownTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return invalidOption("WithShutdownTimeout: %s, want >= 0", d)
		}
		o.shutdownTimeout = d
		return nil
	}
}

// WithLogger sets the logger. Records carry task_name (the Kind),
// reminder_id and attempt. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return invalidOption("WithLogger: nil logger")
		}
		o.logger = l
		return nil
	}
}

// WithObserver sets an Observer that receives an Event for every state
// change, for metrics: every change whose script's reply came back (a
// write whose reply was lost, reported as ErrUnavailable, may have landed
// unseen). Default: none; a nil Observer (a typed nil
// included) is refused with an error wrapping ErrInvalid: leave the
// option out instead.
func WithObserver(obs Observer) Option {
	return func(o *options) error {
		if isNilValue(obs) {
			return invalidOption("WithObserver: nil observer")
		}
		o.observer = obs
		return nil
	}
}

// WithClock sets the local wall clock, for tests. The eager scheduler times
// lateness and handler durations by it. The Redis worker does not time
// anything by it: due times and leases follow Redis TIME, measured every
// 30s, plus the local monotonic time elapsed since, so that a host clock
// that is wrong or stepped (NTP) makes nothing early or late; the worker
// only compares this clock with Redis TIME at each measurement, and logs a
// warning when they differ by more than a second. It must be safe for
// concurrent use: the eager scheduler's callers and a worker's measurements
// of each cluster master call it at once. Default: time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return invalidOption("WithClock: nil clock")
		}
		o.clock = now
		return nil
	}
}
