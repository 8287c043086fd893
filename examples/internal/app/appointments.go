package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sytefy/kit/reminders"
)

// KindAppointmentReminder is the reminder Kind of an appointment reminder.
const KindAppointmentReminder = "appointments.send_reminder"

// Appointment is a user's appointment.
type Appointment struct {
	ID     string    `json:"id"`
	UserID string    `json:"-"`
	Title  string    `json:"title"`
	At     time.Time `json:"at"`
	// RemindAt is when the reminder is due: At minus the reminder offset.
	RemindAt time.Time `json:"remind_at"`
}

// AppointmentPayload is the reminder's payload: everything the handler
// needs, so a worker in another process needs no access to the
// appointments table.
type AppointmentPayload struct {
	AppointmentID string    `json:"appointment_id"`
	UserID        string    `json:"user_id"`
	Title         string    `json:"title"`
	At            time.Time `json:"at"`
}

// Appointments keeps appointments (in memory: the demo's stand-in for a
// database) and their reminders. It is safe for concurrent use.
type Appointments struct {
	sched  reminders.Scheduler
	log    *slog.Logger
	now    func() time.Time
	offset time.Duration

	// mu is held across the scheduler call of Reschedule and Cancel so that
	// the table and the reminder change together: two concurrent
	// reschedules of one appointment cannot leave the reminder at the time
	// that lost. (A database would lock the row instead.)
	mu   sync.Mutex
	byID map[string]Appointment
}

// NewAppointments returns the service; each reminder is due offset before
// its appointment.
func NewAppointments(sched reminders.Scheduler, log *slog.Logger, now func() time.Time, offset time.Duration) *Appointments {
	return &Appointments{sched: sched, log: log, now: now, offset: offset, byID: make(map[string]Appointment)}
}

// ReminderID is the reminder's ID, derived from the appointment: it is the
// idempotency key, so rescheduling replaces the pending reminder instead of
// adding a second one.
func ReminderID(appointmentID string) string { return "appointment:" + appointmentID }

// Create stores an appointment and schedules its reminder. title must be
// 1..200 characters without control characters and at in the future (an
// error wrapping ErrInvalid otherwise); a scheduler error is returned and
// nothing is stored.
func (s *Appointments) Create(ctx context.Context, userID, title string, at time.Time) (Appointment, error) {
	if err := s.check(title, at); err != nil {
		return Appointment{}, err
	}
	a := Appointment{ID: NewID(), UserID: userID, Title: title, At: at.UTC(), RemindAt: at.Add(-s.offset).UTC()}
	// No lock around the scheduler call: nobody knows the new ID yet.
	if err := s.schedule(ctx, a); err != nil {
		return Appointment{}, err
	}
	s.mu.Lock()
	s.byID[a.ID] = a
	s.mu.Unlock()
	s.log.InfoContext(ctx, "appointment created", "appointment_id", a.ID, "user_id", userID, "remind_at", a.RemindAt)
	return a, nil
}

// Reschedule moves a user's appointment to at (and renames it when title
// is not empty), replacing its pending reminder. It returns an error
// wrapping ErrNotFound when the user has no such appointment.
func (s *Appointments) Reschedule(ctx context.Context, userID, id, title string, at time.Time) (Appointment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.byID[id]
	if !ok || a.UserID != userID {
		return Appointment{}, fmt.Errorf("%w: appointment %q", ErrNotFound, id)
	}
	if title == "" {
		title = a.Title
	}
	if err := s.check(title, at); err != nil {
		return Appointment{}, err
	}
	a.Title, a.At, a.RemindAt = title, at.UTC(), at.Add(-s.offset).UTC()
	if err := s.schedule(ctx, a); err != nil {
		return Appointment{}, err
	}
	s.byID[id] = a
	s.log.InfoContext(ctx, "appointment rescheduled", "appointment_id", id, "remind_at", a.RemindAt)
	return a, nil
}

// Cancel deletes a user's appointment and cancels its reminder. A reminder
// already delivered is no error. It returns an error wrapping ErrNotFound
// when the user has no such appointment, and a scheduler error (the
// appointment is kept, so the call can be retried).
func (s *Appointments) Cancel(ctx context.Context, userID, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.byID[id]
	if !ok || a.UserID != userID {
		return fmt.Errorf("%w: appointment %q", ErrNotFound, id)
	}
	if err := s.sched.Cancel(ctx, ReminderID(id)); err != nil && !errors.Is(err, reminders.ErrNotFound) {
		return fmt.Errorf("cancel reminder: %w", err)
	}
	delete(s.byID, id)
	s.log.InfoContext(ctx, "appointment cancelled", "appointment_id", id)
	return nil
}

func (s *Appointments) check(title string, at time.Time) error {
	if err := checkText("title", title, 200); err != nil {
		return err
	}
	if !at.After(s.now()) {
		return fmt.Errorf("%w: at %s is not in the future", ErrInvalid, at.Format(time.RFC3339))
	}
	return nil
}

func (s *Appointments) schedule(ctx context.Context, a Appointment) error {
	payload, err := json.Marshal(AppointmentPayload{AppointmentID: a.ID, UserID: a.UserID, Title: a.Title, At: a.At})
	if err != nil {
		return err
	}
	err = s.sched.Schedule(ctx, reminders.Reminder{
		ID:      ReminderID(a.ID),
		Kind:    KindAppointmentReminder,
		DueAt:   a.RemindAt,
		Payload: payload,
	})
	if err != nil {
		return fmt.Errorf("schedule reminder: %w", err)
	}
	return nil
}
