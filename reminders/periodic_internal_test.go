package reminders

import (
	"context"
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
