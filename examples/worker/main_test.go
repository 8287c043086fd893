package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/examples/internal/app"
	"github.com/sytefy/kit/examples/internal/boot"
)

// The worker refuses configurations in which it could deliver nothing.
// (Delivery itself is tested in boot: TestSeparateWorkerDelivers.)
func TestWorkerNeedsRedis(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"REDIS_URL":        {"REDIS_URL": ""},
		"REMINDERS_EAGER":  {"REDIS_URL": "redis://127.0.0.1:1/0", "REMINDERS_EAGER": "1"},
		"REMINDER_WORKERS": {"REDIS_URL": "redis://127.0.0.1:1/0", "REMINDER_WORKERS": "0"},
	} {
		t.Run(name, func(t *testing.T) {
			for k, v := range env {
				t.Setenv(k, v)
			}
			err := boot.Worker(context.Background())
			require.ErrorIs(t, err, app.ErrConfig)
			assert.Contains(t, err.Error(), name)
		})
	}
}
