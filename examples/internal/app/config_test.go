package app

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(env(nil))
	require.NoError(t, err)
	assert.Equal(t, ":8080", c.Addr)
	assert.Empty(t, c.RedisURL)
	assert.False(t, c.Eager)
	assert.Equal(t, 30*time.Minute, c.ReminderOffset)
	assert.Equal(t, 3, c.MaxRetries)
	assert.Equal(t, 10, c.Workers)
	assert.True(t, c.SecretGenerated)
	assert.Len(t, c.JWTSecret, MinSecretLen)

	c2, err := LoadConfig(env(nil))
	require.NoError(t, err)
	assert.NotEqual(t, c.JWTSecret, c2.JWTSecret, "a fresh random secret each time")
}

func TestLoadConfigFromEnv(t *testing.T) {
	secret := strings.Repeat("s", 40)
	c, err := LoadConfig(env(map[string]string{
		"ADDR": "127.0.0.1:9000", "REDIS_URL": "redis://r:6379/1", "REMINDERS_EAGER": "1",
		"REMINDER_OFFSET_MINUTES": "5", "REMINDER_MAX_RETRIES": "0", "REMINDER_WORKERS": "0",
		"JWT_SECRET": secret,
	}))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9000", c.Addr)
	assert.Equal(t, "redis://r:6379/1", c.RedisURL)
	assert.True(t, c.Eager)
	assert.Equal(t, 5*time.Minute, c.ReminderOffset)
	assert.Equal(t, 0, c.MaxRetries)
	assert.Equal(t, 0, c.Workers)
	assert.Equal(t, []byte(secret), c.JWTSecret)
	assert.False(t, c.SecretGenerated)
}

func TestLoadConfigErrorsNameTheVariable(t *testing.T) {
	for name, vars := range map[string]map[string]string{
		"REMINDERS_EAGER":         {"REMINDERS_EAGER": "yes please"},
		"REMINDER_OFFSET_MINUTES": {"REMINDER_OFFSET_MINUTES": "-1"},
		"REMINDER_MAX_RETRIES":    {"REMINDER_MAX_RETRIES": "three"},
		"REMINDER_WORKERS":        {"REMINDER_WORKERS": "0"}, // without REDIS_URL nothing would deliver
		"JWT_SECRET":              {"JWT_SECRET": "too short"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadConfig(env(vars))
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), name)
		})
	}
}
