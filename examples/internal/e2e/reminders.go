package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/examples/internal/app"
)

// soon is how far ahead the "near future" appointments are: long enough
// for the requests that reschedule and cancel them to land first.
const soon = 1500 * time.Millisecond

// testReminders: with a zero offset, an appointment's reminder is sent
// once, at its time and not before; a rescheduled one at its new time; one
// moved away or cancelled not at all.
func testReminders(t *testing.T, h NewHandler) {
	s := Start(t, h, nil)
	tok := s.Login("demo", "demo")
	create := func(title string, at time.Time) Appointment {
		r := s.Do("POST", "/appointments", tok.AccessToken, map[string]string{"title": title, "at": stamp(at)})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		var a Appointment
		r.JSON(t, &a)
		require.NotEmpty(t, a.ID)
		assert.Equal(t, "/appointments/"+a.ID, r.Header.Get("Location"))
		assert.True(t, a.RemindAt.Equal(a.At), "offset 0: remind at the appointment time")
		return a
	}
	reschedule := func(a Appointment, at time.Time) {
		r := s.Do("PUT", "/appointments/"+a.ID, tok.AccessToken, map[string]string{"at": stamp(at)})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	}

	// Each of these is moved away or cancelled by the request right after
	// the one that created it, long before it is due, however slow the
	// machine.
	movedOut := create("moved out", time.Now().Add(soon))
	reschedule(movedOut, time.Now().Add(time.Hour))
	cancelled := create("cancelled", time.Now().Add(soon))
	assert.Equal(t, http.StatusNoContent, s.Do("DELETE", "/appointments/"+cancelled.ID, tok.AccessToken, nil).Status)
	assert.Equal(t, http.StatusNotFound, s.Do("DELETE", "/appointments/"+cancelled.ID, tok.AccessToken, nil).Status)

	due := time.Now().Add(soon).Truncate(time.Millisecond)
	plain := create("dentist", due)
	movedIn := create("moved in", time.Now().Add(time.Hour))
	reschedule(movedIn, due)

	// Another user can neither move nor cancel it (and cannot tell it exists).
	alice := s.Login("alice", "wonderland")
	assert.Equal(t, http.StatusNotFound, s.Do("DELETE", "/appointments/"+plain.ID, alice.AccessToken, nil).Status)
	r := s.Do("PUT", "/appointments/"+plain.ID, alice.AccessToken, map[string]string{"at": stamp(time.Now().Add(time.Hour))})
	assert.Equal(t, http.StatusNotFound, r.Status, "%s", r.Body)

	require.Eventually(t, func() bool {
		return len(s.Sent.For(app.ReminderID(plain.ID), app.Email)) > 0 &&
			len(s.Sent.For(app.ReminderID(movedIn.ID), app.Email)) > 0
	}, soon+5*time.Second, 10*time.Millisecond, "the due reminders were not sent")
	// Give a duplicate, or a reminder that should not fire, time to show.
	time.Sleep(time.Until(due.Add(time.Second)))

	for _, a := range []Appointment{plain, movedIn} {
		for _, ch := range []app.Channel{app.Email, app.SMS} {
			sent := s.Sent.For(app.ReminderID(a.ID), ch)
			require.Len(t, sent, 1, "%s via %s: sent once", a.Title, ch)
			assert.False(t, sent[0].At.Before(due), "%s sent at %s, before its time %s", a.Title, sent[0].At, due)
			assert.Equal(t, "u-demo", sent[0].UserID)
			assert.Contains(t, sent[0].Subject, a.Title)
		}
	}
	assert.Empty(t, s.Sent.For(app.ReminderID(movedOut.ID), app.Email), "moved an hour away")
	assert.Empty(t, s.Sent.For(app.ReminderID(cancelled.ID), app.Email), "cancelled")
}

// testPayments: POST /payments schedules a finance.payment_due reminder
// for the due time.
func testPayments(t *testing.T, h NewHandler) {
	s := Start(t, h, nil)
	tok := s.Login("demo", "demo")
	due := time.Now().Add(soon).Truncate(time.Millisecond)
	r := s.Do("POST", "/payments", tok.AccessToken, map[string]string{"amount": "49.90", "due_at": stamp(due)})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var p struct {
		ID       string `json:"id"`
		Amount   string `json:"amount"`
		Currency string `json:"currency"`
	}
	r.JSON(t, &p)
	assert.Equal(t, "49.90", p.Amount, "the digits as sent, never through a float")
	assert.Equal(t, app.DefaultCurrency, p.Currency)

	require.Eventually(t, func() bool {
		return len(s.Sent.For(app.PaymentReminderID(p.ID), app.SMS)) > 0
	}, soon+5*time.Second, 10*time.Millisecond, "the payment reminder was not sent")
	sent := s.Sent.For(app.PaymentReminderID(p.ID), app.SMS)
	require.Len(t, sent, 1)
	assert.False(t, sent[0].At.Before(due), "sent before its time")
	assert.Contains(t, sent[0].Subject, "49.90 TRY")

	r = s.Do("POST", "/payments", tok.AccessToken, map[string]string{"amount": "-3", "due_at": stamp(due)})
	assert.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Body)
	assert.Equal(t, http.StatusUnauthorized, s.Do("POST", "/payments", "", map[string]string{"amount": "1"}).Status)
}
