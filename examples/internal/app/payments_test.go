package app

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// Create takes an amount only in its canonical form, so that the amount a
// client reads back is the one it sent, and refuses the rest as invalid.
func TestPaymentAmounts(t *testing.T) {
	mux := reminders.NewMux()
	mux.HandleFunc(KindPaymentDue, func(context.Context, reminders.Delivery) error { return nil })
	sched, err := reminders.NewEagerScheduler(mux)
	require.NoError(t, err)
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	pays := NewPayments(sched, &MemoryPayments{}, slog.New(slog.DiscardHandler), func() time.Time { return now }, 0)
	for _, amount := range []string{"49.90", "0.5", "1", "10", "999999999999.99"} {
		p, err := pays.Create(context.Background(), "u1", amount, "", now.Add(48*time.Hour))
		if assert.NoError(t, err, amount) {
			assert.Equal(t, amount, p.Amount)
		}
	}
	for _, amount := range []string{"", "0", "0.00", "007.5", "00.5", "-3", "+3", "4,50", "1.", ".5", "1.234", "1e3", "1000000000000"} {
		_, err := pays.Create(context.Background(), "u1", amount, "", now.Add(48*time.Hour))
		assert.ErrorIs(t, err, ErrInvalid, "%q", amount)
	}
}
