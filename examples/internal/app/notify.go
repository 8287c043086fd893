package app

import (
	"context"
	"log/slog"
)

// Channel is how a message reaches a user.
type Channel string

// Channels the reminder handlers send on.
const (
	Email Channel = "email"
	SMS   Channel = "sms"
)

// Message is one notification to one user.
type Message struct {
	Channel Channel
	UserID  string
	Subject string
	Body    string
	// IdempotencyKey identifies the message across redeliveries: reminders
	// are delivered at least once, so a provider that deduplicates on this
	// key (most e-mail and SMS APIs accept one) sends it once.
	IdempotencyKey string
}

// Notifier sends messages: an e-mail or SMS provider's client in a real
// service. Implementations must be safe for concurrent use; an error makes
// the reminder's attempt fail, so it is retried with backoff.
type Notifier interface {
	Notify(ctx context.Context, m Message) error
}

// LogNotifier is the placeholder Notifier: it logs each message at INFO
// instead of sending it.
type LogNotifier struct {
	Log *slog.Logger
}

// Notify logs m.
func (n LogNotifier) Notify(ctx context.Context, m Message) error {
	n.Log.InfoContext(ctx, "notification (placeholder: not sent)",
		"channel", string(m.Channel), "user_id", m.UserID, "subject", m.Subject, "idempotency_key", m.IdempotencyKey)
	return nil
}
