package reminders_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// gocron's routine records ("gocron: new scheduler created", "scheduler
// started") reach the injected logger at DEBUG, never at INFO, where they
// would read as the application's news.
func TestPeriodicGocronLogsAtDebug(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC))
	logs := &logBuffer{}
	p := h.periodic(t, reminders.WithPeriodicLogger(slog.New(logs)))
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	require.NoError(t, p.Start(ctxT(t)))
	require.NoError(t, p.Shutdown(ctxT(t)))

	assert.NotEmpty(t, logs.find(slog.LevelDebug, "gocron: new scheduler created"))
	assert.NotEmpty(t, logs.find(slog.LevelDebug, "gocron: scheduler started"))
	logs.mu.Lock()
	defer logs.mu.Unlock()
	for _, r := range logs.records {
		if strings.Contains(r.Message, "gocron") {
			assert.Equal(t, slog.LevelDebug, r.Level, "%q", r.Message)
		}
	}
}

// A Shutdown whose context ends before a firing returns (its build
// ignores its context) returns an error wrapping ErrUnavailable and the
// context's error, as every error of the package wraps a sentinel; the
// firing then ends on its own.
func TestPeriodicShutdownContextEnds(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC))
	shutdownDuringBuild(t, h.periodic(t), "stuck", func() {
		h.advanceTo(t, 1, time.Date(2025, 5, 1, 10, 1, 0, 0, time.UTC))
	})
}
