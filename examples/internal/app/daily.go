package app

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	_ "time/tzdata" // Europe/Istanbul even on an image without zoneinfo

	"github.com/go-co-op/gocron/v2"

	"github.com/sytefy/kit/reminders"
)

// The day-of payment job: every day at 09:00 Europe/Istanbul a recurring
// reminder (KindScheduleDay) fires, and its handler schedules a
// finance.payment_due reminder for each payment due that day.
const (
	// DailyJobName names the recurring job; its reminders' IDs derive from
	// it and the tick, so every API instance may run it.
	DailyJobName = "finance.daily_payments"
	// DailyJobCron is its schedule: 09:00 every day, Istanbul time.
	DailyJobCron = "CRON_TZ=Europe/Istanbul 0 9 * * *"
	// KindScheduleDay is the Kind of the job's reminder.
	KindScheduleDay = "finance.schedule_day"
	// PaymentsZone is the zone whose calendar days the job counts in.
	PaymentsZone = "Europe/Istanbul"
)

// schedulePayload is the day-of job's reminder payload.
type schedulePayload struct {
	Day string `json:"day"` // YYYY-MM-DD in PaymentsZone
}

// RegisterDailyJob registers the day-of job on p.
func RegisterDailyJob(p *reminders.Periodic) error {
	return p.Register(DailyJobName, gocron.CronJob(DailyJobCron, false), func(tick time.Time) reminders.Reminder {
		payload, _ := json.Marshal(schedulePayload{Day: tick.Format(time.DateOnly)}) // cannot fail
		return reminders.Reminder{Kind: KindScheduleDay, Payload: payload}
	})
}

// DayOfReminderID is the ID of a payment's day-of reminder: another ID
// than PaymentReminderID's, so it does not replace that one.
func DayOfReminderID(paymentID string) string { return "payment:" + paymentID + ":day-of" }

// ScheduleDay is the handler of KindScheduleDay: it schedules, due at
// once, a finance.payment_due reminder for every payment due on the
// delivery's day. Delivered again (at least once), it schedules the same
// IDs again, which replaces them while they are pending.
func (s *Payments) ScheduleDay(ctx context.Context, d reminders.Delivery) error {
	var p schedulePayload
	if err := json.Unmarshal(d.Payload, &p); err != nil {
		return fmt.Errorf("%s payload: %w", d.Kind, err)
	}
	zone, err := time.LoadLocation(PaymentsZone)
	if err != nil {
		return err
	}
	day, err := time.ParseInLocation(time.DateOnly, p.Day, zone)
	if err != nil {
		return fmt.Errorf("%s payload: day %q: %w", d.Kind, p.Day, err)
	}
	due, err := s.store.DueBetween(ctx, day, day.AddDate(0, 0, 1))
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "scheduling the day's payment reminders",
		"task_name", d.Kind, "reminder_id", d.ID, "attempt", d.Attempt, "day", p.Day, "payments", len(due))
	for _, rec := range due {
		if err := s.schedule(ctx, DayOfReminderID(rec.PaymentID), s.now(), rec); err != nil {
			return err
		}
	}
	return nil
}
