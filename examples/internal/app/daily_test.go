package app

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// The day-of job's handler schedules a reminder for exactly the payments
// due on its day, counted in Istanbul time, on either payment store.
func TestScheduleDay(t *testing.T) {
	mini := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mini.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	for name, store := range map[string]PaymentStore{
		"memory": &MemoryPayments{},
		"redis":  NewRedisPayments(client, "payments-test"),
	} {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var dayOf []string
			mux := reminders.NewMux()
			mux.HandleFunc(KindPaymentDue, func(_ context.Context, d reminders.Delivery) error {
				mu.Lock()
				defer mu.Unlock()
				dayOf = append(dayOf, d.ID)
				return nil
			})
			sched, err := reminders.NewEagerScheduler(mux)
			require.NoError(t, err)
			now := time.Date(2030, 3, 9, 12, 0, 0, 0, time.UTC)
			pays := NewPayments(sched, store, slog.New(slog.DiscardHandler), func() time.Time { return now }, 0)
			ctx := context.Background()

			ist := time.FixedZone("+03", 3*60*60) // Istanbul has kept UTC+3 since 2016
			ids := map[string]string{}
			for name, due := range map[string]time.Time{
				"just after midnight": time.Date(2030, 3, 10, 0, 0, 0, 0, ist), // 2030-03-09 21:00 UTC
				"late evening":        time.Date(2030, 3, 10, 23, 59, 0, 0, ist),
				"the next day":        time.Date(2030, 3, 11, 0, 0, 0, 0, ist),
				"the day before":      time.Date(2030, 3, 9, 23, 59, 0, 0, ist),
			} {
				p, err := pays.Create(ctx, "u1", "10.00", "", due)
				require.NoError(t, err, name)
				ids[name] = p.ID
			}
			mu.Lock()
			dayOf = nil // forget the reminders Create sent (eager: at once)
			mu.Unlock()

			d := reminders.Delivery{Reminder: reminders.Reminder{ID: "tick", Kind: KindScheduleDay, Payload: []byte(`{"day":"2030-03-10"}`)}, Attempt: 1}
			require.NoError(t, pays.ScheduleDay(ctx, d))
			want := []string{DayOfReminderID(ids["just after midnight"]), DayOfReminderID(ids["late evening"])}
			sort.Strings(want)
			mu.Lock()
			sort.Strings(dayOf)
			assert.Equal(t, want, dayOf)
			mu.Unlock()

			d.Payload = []byte(`{"day":"tomorrow"}`)
			assert.Error(t, pays.ScheduleDay(ctx, d))
		})
	}
}

func TestRegisterDailyJob(t *testing.T) {
	sched, err := reminders.NewEagerScheduler(reminders.NewMux())
	require.NoError(t, err)
	p, err := reminders.NewPeriodic(sched)
	require.NoError(t, err)
	require.NoError(t, RegisterDailyJob(p))
	assert.Error(t, RegisterDailyJob(p), "one name, registered once")
}
