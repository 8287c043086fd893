package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/sytefy/kit/reminders"
)

// KindPaymentDue is the reminder Kind of a payment-due reminder.
const KindPaymentDue = "finance.payment_due"

// Payment is an amount a user owes by a due time.
type Payment struct {
	ID     string `json:"id"`
	UserID string `json:"-"`
	// Amount is a decimal string ("49.90"): money is never a float.
	Amount   string    `json:"amount"`
	Currency string    `json:"currency"`
	DueAt    time.Time `json:"due_at"`
	RemindAt time.Time `json:"remind_at"`
}

// PaymentPayload is the finance.payment_due reminder's payload.
type PaymentPayload struct {
	PaymentID string    `json:"payment_id"`
	UserID    string    `json:"user_id"`
	Amount    string    `json:"amount"`
	Currency  string    `json:"currency"`
	DueAt     time.Time `json:"due_at"`
}

var (
	// amountRE is a canonical decimal: no sign, no leading zero before
	// another digit ("007.5" would be stored and shown as given), at most
	// 12 integer and 2 fraction digits.
	amountRE   = regexp.MustCompile(`^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$`)
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
)

// DefaultCurrency is the currency of a payment that names none (ISO 4217).
const DefaultCurrency = "TRY"

// Payments keeps payments in a PaymentStore and schedules their reminders:
// one offset before each payment's due time, and one on the morning of the
// day it is due (see DailyJob). It is safe for concurrent use.
type Payments struct {
	sched  reminders.Scheduler
	store  PaymentStore
	log    *slog.Logger
	now    func() time.Time
	offset time.Duration
}

// NewPayments returns the service; each reminder is due offset before its
// payment's due time.
func NewPayments(sched reminders.Scheduler, store PaymentStore, log *slog.Logger, now func() time.Time, offset time.Duration) *Payments {
	return &Payments{sched: sched, store: store, log: log, now: now, offset: offset}
}

// PaymentReminderID is the payment reminder's ID, derived from the payment.
func PaymentReminderID(paymentID string) string { return "payment:" + paymentID }

// Create stores a payment and schedules its finance.payment_due reminder.
// amount is a positive decimal with at most two fraction digits, currency
// three capital letters (empty: DefaultCurrency), dueAt in the future; an
// error wrapping ErrInvalid names the field otherwise.
func (s *Payments) Create(ctx context.Context, userID, amount, currency string, dueAt time.Time) (Payment, error) {
	if !amountRE.MatchString(amount) || !hasNonZeroDigit(amount) {
		return Payment{}, fmt.Errorf("%w: amount %q is not a positive decimal like \"49.90\"", ErrInvalid, amount)
	}
	if currency == "" {
		currency = DefaultCurrency
	}
	if !currencyRE.MatchString(currency) {
		return Payment{}, fmt.Errorf("%w: currency %q is not three capital letters, the shape of an ISO 4217 code like \"TRY\"", ErrInvalid, currency)
	}
	if !dueAt.After(s.now()) {
		return Payment{}, fmt.Errorf("%w: due_at %s is not in the future", ErrInvalid, dueAt.Format(time.RFC3339))
	}
	p := Payment{ID: NewID(), UserID: userID, Amount: amount, Currency: currency, DueAt: dueAt.UTC(), RemindAt: dueAt.Add(-s.offset).UTC()}
	rec := PaymentPayload{PaymentID: p.ID, UserID: userID, Amount: amount, Currency: currency, DueAt: p.DueAt}
	// Stored first: the day-of job must find it even if scheduling fails
	// (the client's retry then stores a second payment; a database would
	// take an idempotency key from the client for that).
	if err := s.store.Add(ctx, rec); err != nil {
		return Payment{}, err
	}
	if err := s.schedule(ctx, PaymentReminderID(p.ID), p.RemindAt, rec); err != nil {
		return Payment{}, err
	}
	s.log.InfoContext(ctx, "payment created", "payment_id", p.ID, "user_id", userID, "remind_at", p.RemindAt)
	return p, nil
}

func (s *Payments) schedule(ctx context.Context, id string, due time.Time, rec PaymentPayload) error {
	payload, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	err = s.sched.Schedule(ctx, reminders.Reminder{ID: id, Kind: KindPaymentDue, DueAt: due, Payload: payload})
	if err != nil {
		return fmt.Errorf("schedule reminder: %w", err)
	}
	return nil
}

func hasNonZeroDigit(s string) bool {
	for _, c := range s {
		if c >= '1' && c <= '9' {
			return true
		}
	}
	return false
}
