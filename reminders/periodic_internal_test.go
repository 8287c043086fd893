package reminders

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Start returns gocron's refusal wrapped in ErrInvalid (Register checks
// what gocron needs, so only a job that bypassed it, as here with an
// empty name, can be refused), never a bare error.
func TestPeriodicStartErrorWrapsSentinel(t *testing.T) {
	s, err := NewEagerScheduler(HandlerFunc(func(context.Context, Delivery) error { return nil }))
	require.NoError(t, err)
	p, err := NewPeriodic(s)
	require.NoError(t, err)
	p.jobs = append(p.jobs, &periodicJob{name: "", tk: everyTicks{period: time.Minute}, loc: time.UTC,
		build: func(time.Time) Reminder { return Reminder{Kind: "k"} }})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = p.Start(ctx)
	require.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "Periodic.Start")
	require.NoError(t, p.Shutdown(ctx), "nothing was started")
}

// NewPeriodic warns when its default tick store is in memory for a
// scheduler that may run in many instances (neither a RedisScheduler,
// whose Redis it uses, nor an EagerScheduler, which is one process).
func TestNewPeriodicWarnsOfPerProcessClaims(t *testing.T) {
	eager, err := NewEagerScheduler(HandlerFunc(func(context.Context, Delivery) error { return nil }))
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		s    Scheduler
		warn bool
	}{
		{"eager", eager, false},
		{"wrapped", struct{ Scheduler }{eager}, true},
	} {
		var buf bytes.Buffer
		_, err := NewPeriodic(tc.s, WithPeriodicLogger(slog.New(slog.NewTextHandler(&buf, nil))))
		require.NoError(t, err)
		assert.Equal(t, tc.warn, strings.Contains(buf.String(), "level=WARN"), "%s: %s", tc.name, buf.String())
		if tc.warn {
			assert.Contains(t, buf.String(), "every instance stores every tick")
		}
		buf.Reset()
		_, err = NewPeriodic(tc.s, WithTickStore(NewMemoryTickStore()), WithPeriodicLogger(slog.New(slog.NewTextHandler(&buf, nil))))
		require.NoError(t, err)
		assert.Empty(t, buf.String(), "%s: a tick store given is the caller's choice", tc.name)
	}
}
