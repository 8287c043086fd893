package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/sytefy/kit/reminders"
)

// Handlers returns the reminder handlers of the service, routed by Kind:
// appointments.send_reminder and finance.payment_due. Each logs the
// delivery (task_name, appointment_id or payment_id, attempt) and sends an
// e-mail and an SMS through n.
func Handlers(log *slog.Logger, n Notifier) *reminders.Mux {
	mux := reminders.NewMux()
	mux.HandleFunc(KindAppointmentReminder, func(ctx context.Context, d reminders.Delivery) error {
		var p AppointmentPayload
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			// Retrying cannot fix a bad payload; the error takes it to the
			// dead-letter set, where it can be inspected.
			return fmt.Errorf("%s payload: %w", d.Kind, err)
		}
		log.InfoContext(ctx, "appointment reminder",
			"task_name", d.Kind, "appointment_id", p.AppointmentID, "attempt", d.Attempt, "at", p.At)
		subject := "Reminder: " + p.Title
		body := fmt.Sprintf("%s at %s.", p.Title, p.At.Format(time.RFC1123))
		return send(ctx, n, d, p.UserID, p.At, subject, body)
	})
	mux.HandleFunc(KindPaymentDue, func(ctx context.Context, d reminders.Delivery) error {
		var p PaymentPayload
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			return fmt.Errorf("%s payload: %w", d.Kind, err)
		}
		log.InfoContext(ctx, "payment due reminder",
			"task_name", d.Kind, "payment_id", p.PaymentID, "attempt", d.Attempt, "due_at", p.DueAt)
		subject := fmt.Sprintf("Payment due: %s %s", p.Amount, p.Currency)
		body := fmt.Sprintf("%s %s is due on %s.", p.Amount, p.Currency, p.DueAt.Format(time.RFC1123))
		return send(ctx, n, d, p.UserID, p.DueAt, subject, body)
	})
	return mux
}

// send notifies on every channel. The idempotency key is the reminder ID,
// the time reminded of and the channel: a redelivery (a retry, or a
// crashed worker's lease taken over) repeats the same keys, so the provider
// can drop the duplicates, while a rescheduled appointment gets new ones.
func send(ctx context.Context, n Notifier, d reminders.Delivery, userID string, when time.Time, subject, body string) error {
	for _, ch := range []Channel{Email, SMS} {
		key := fmt.Sprintf("%s@%d/%s", d.ID, when.Unix(), ch)
		m := Message{Channel: ch, UserID: userID, Subject: subject, Body: body, IdempotencyKey: key}
		if err := n.Notify(ctx, m); err != nil {
			return fmt.Errorf("%s via %s: %w", d.Kind, ch, err)
		}
	}
	return nil
}
