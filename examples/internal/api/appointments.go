package api

import (
	"context"
	"io"
	"net/http"

	"github.com/sytefy/kit/examples/internal/app"
)

// CreateAppointment is POST /appointments {"title", "at"} (authenticated):
// 201 with the appointment, whose "id" names it in the routes below; its
// reminder is scheduled for at minus REMINDER_OFFSET_MINUTES.
func (a *API) CreateAppointment(ctx context.Context, p app.Principal, body io.Reader) Response {
	var req struct {
		Title string `json:"title"`
		At    string `json:"at"`
	}
	if err := decode(body, &req); err != nil {
		return a.Error(ctx, err)
	}
	at, err := parseTime("at", req.At)
	if err != nil {
		return a.Error(ctx, err)
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	appt, err := a.appts.Create(ctx, p.UserID, req.Title, at)
	if err != nil {
		return a.Error(ctx, err)
	}
	return Response{Status: http.StatusCreated, Header: map[string]string{"Location": "/appointments/" + appt.ID}, Body: appt}
}

// RescheduleAppointment is PUT /appointments/{id} {"at", "title"?}
// (authenticated): 200 with the appointment; its reminder moves with it.
func (a *API) RescheduleAppointment(ctx context.Context, p app.Principal, id string, body io.Reader) Response {
	var req struct {
		Title string `json:"title"`
		At    string `json:"at"`
	}
	if err := decode(body, &req); err != nil {
		return a.Error(ctx, err)
	}
	at, err := parseTime("at", req.At)
	if err != nil {
		return a.Error(ctx, err)
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	appt, err := a.appts.Reschedule(ctx, p.UserID, id, req.Title, at)
	if err != nil {
		return a.Error(ctx, err)
	}
	return JSON(http.StatusOK, appt)
}

// CancelAppointment is DELETE /appointments/{id} (authenticated): 204; its
// reminder will not be sent.
func (a *API) CancelAppointment(ctx context.Context, p app.Principal, id string) Response {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	if err := a.appts.Cancel(ctx, p.UserID, id); err != nil {
		return a.Error(ctx, err)
	}
	return Response{Status: http.StatusNoContent}
}

// CreatePayment is POST /payments {"amount", "currency"?, "due_at"}
// (authenticated): 201 with the payment; a finance.payment_due reminder is
// scheduled for due_at minus REMINDER_OFFSET_MINUTES. amount is a decimal
// string ("49.90"); a JSON number is a 400.
func (a *API) CreatePayment(ctx context.Context, p app.Principal, body io.Reader) Response {
	var req struct {
		Amount   amount `json:"amount"`
		Currency string `json:"currency"`
		DueAt    string `json:"due_at"`
	}
	if err := decode(body, &req); err != nil {
		return a.Error(ctx, err)
	}
	if err := required("amount", string(req.Amount)); err != nil {
		return a.Error(ctx, err)
	}
	due, err := parseTime("due_at", req.DueAt)
	if err != nil {
		return a.Error(ctx, err)
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	pay, err := a.pays.Create(ctx, p.UserID, string(req.Amount), req.Currency, due)
	if err != nil {
		return a.Error(ctx, err)
	}
	return JSON(http.StatusCreated, pay)
}
