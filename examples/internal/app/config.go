package app

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"time"
)

// Config is the service's configuration. LoadConfig reads it from the
// environment; tests build it directly.
type Config struct {
	// Addr is the HTTP listen address (ADDR). Default: ":8080".
	Addr string
	// RedisURL is the Redis to use (REDIS_URL), for example
	// "redis://localhost:6379/0"; a URL with addr= query parameters
	// ("redis://h1:7000?addr=h2:7001&addr=h3:7002") selects Redis Cluster.
	// Empty: reminders run on an embedded in-process miniredis and sessions
	// in memory, so the service runs with nothing installed.
	RedisURL string
	// Eager runs each reminder's handler synchronously inside Schedule
	// (REMINDERS_EAGER=1), like Celery's task_always_eager: no worker.
	Eager bool
	// ReminderOffset is how long before an appointment its reminder is sent
	// (REMINDER_OFFSET_MINUTES, 0..10080). Default: 30m.
	ReminderOffset time.Duration
	// MaxRetries is how many times a failed reminder is retried before it
	// is dead-lettered (REMINDER_MAX_RETRIES, 0..1000). Default: 3.
	MaxRetries int
	// Workers is how many reminder handlers this process runs at once
	// (REMINDER_WORKERS, 0..1000); 0 leaves delivery to the separate worker
	// program, which needs REDIS_URL. Default: 10.
	Workers int
	// JWTSecret is the HS256 key of both tokens (JWT_SECRET), at least 32
	// bytes (RFC 7518 §3.2: a key as long as the hash). Empty in the
	// environment: a random key, so tokens die with the process.
	JWTSecret []byte
	// SecretGenerated reports that JWTSecret is random; the caller warns.
	SecretGenerated bool

	// The fields below have no environment variable.

	// KeyPrefix, when set, is put before the library's own key prefixes so
	// that several deployments (or tests) share one Redis.
	KeyPrefix string
	// AccessTTL is the access token's lifetime. Default: 15m.
	AccessTTL time.Duration
	// RefreshTTL is the refresh token's (and its session's) lifetime.
	// Default: 30 days.
	RefreshTTL time.Duration
	// RequestTimeout bounds each store and scheduler call made for one
	// request, so a hung Redis costs a 500, not a hung client. Default: 3s.
	RequestTimeout time.Duration
	// PasswordCost is the bcrypt cost of the user table's hashes.
	// Default: bcrypt.DefaultCost (10).
	PasswordCost int
}

// MinSecretLen is the shortest JWT_SECRET accepted, in bytes.
const MinSecretLen = 32

// LoadConfig reads the configuration from getenv (os.Getenv in main). It
// returns an error wrapping ErrConfig that names the variable at fault.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Defaults()
	if v := getenv("ADDR"); v != "" {
		c.Addr = v
	}
	c.RedisURL = getenv("REDIS_URL")
	switch v := getenv("REMINDERS_EAGER"); v {
	case "", "0", "false":
	case "1", "true":
		c.Eager = true
	default:
		return Config{}, fmt.Errorf("%w: REMINDERS_EAGER=%q, want 1 or 0", ErrConfig, v)
	}
	minutes, err := intVar(getenv, "REMINDER_OFFSET_MINUTES", int(c.ReminderOffset/time.Minute), 0, 7*24*60)
	if err != nil {
		return Config{}, err
	}
	c.ReminderOffset = time.Duration(minutes) * time.Minute
	if c.MaxRetries, err = intVar(getenv, "REMINDER_MAX_RETRIES", c.MaxRetries, 0, 1000); err != nil {
		return Config{}, err
	}
	if c.Workers, err = intVar(getenv, "REMINDER_WORKERS", c.Workers, 0, 1000); err != nil {
		return Config{}, err
	}
	if c.Workers == 0 && c.RedisURL == "" && !c.Eager {
		return Config{}, fmt.Errorf("%w: REMINDER_WORKERS=0 needs REDIS_URL: nothing else can deliver reminders stored in the embedded Redis", ErrConfig)
	}
	if v := getenv("JWT_SECRET"); v != "" {
		if len(v) < MinSecretLen {
			return Config{}, fmt.Errorf("%w: JWT_SECRET is %d bytes, want at least %d", ErrConfig, len(v), MinSecretLen)
		}
		c.JWTSecret = []byte(v)
	} else {
		c.JWTSecret = make([]byte, MinSecretLen)
		_, _ = rand.Read(c.JWTSecret) // crypto/rand.Read never fails (Go 1.24)
		c.SecretGenerated = true
	}
	return c, nil
}

// Defaults returns the configuration with every default and a nil
// JWTSecret.
func Defaults() Config {
	return Config{
		Addr:           ":8080",
		ReminderOffset: 30 * time.Minute,
		MaxRetries:     3,
		Workers:        10,
		AccessTTL:      15 * time.Minute,
		RefreshTTL:     30 * 24 * time.Hour,
		RequestTimeout: 3 * time.Second,
		PasswordCost:   10,
	}
}

func intVar(getenv func(string) string, name string, def, lo, hi int) (int, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%w: %s=%q, want an integer in %d..%d", ErrConfig, name, v, lo, hi)
	}
	return n, nil
}
