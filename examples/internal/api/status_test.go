package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sytefy/kit/examples/internal/api"
	"github.com/sytefy/kit/examples/internal/app"
	"github.com/sytefy/kit/reminders"
	"github.com/sytefy/kit/sessions"
)

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, http.StatusOK},
		{fmt.Errorf("rotate: %w", sessions.ErrInvalid), http.StatusBadRequest},
		{fmt.Errorf("schedule: %w", reminders.ErrInvalid), http.StatusBadRequest},
		{app.ErrInvalid, http.StatusBadRequest},
		{fmt.Errorf("rotate: %w", sessions.ErrNotActive), http.StatusUnauthorized},
		{fmt.Errorf("rotate: %w", sessions.ErrReuseDetected), http.StatusUnauthorized},
		{app.ErrUnauthorized, http.StatusUnauthorized},
		{app.ErrNotFound, http.StatusNotFound},
		{fmt.Errorf("is active: %w", sessions.ErrUnavailable), http.StatusInternalServerError},
		{fmt.Errorf("schedule: %w", reminders.ErrUnavailable), http.StatusInternalServerError},
		{context.DeadlineExceeded, http.StatusInternalServerError},
		{errors.New("something unforeseen"), http.StatusInternalServerError},
		// Fail closed: a backend failure wins over anything else it wraps.
		{errors.Join(sessions.ErrNotActive, sessions.ErrUnavailable), http.StatusInternalServerError},
		{fmt.Errorf("%w: %w", reminders.ErrInvalid, reminders.ErrUnavailable), http.StatusInternalServerError},
	} {
		assert.Equal(t, tc.want, api.Status(tc.err), "%v", tc.err)
	}
}

func ExampleStatus() {
	for _, err := range []error{
		fmt.Errorf("rotate session: %w", sessions.ErrReuseDetected),
		fmt.Errorf("rotate session: %w", sessions.ErrUnavailable),
		fmt.Errorf("%w: at is not in the future", app.ErrInvalid),
	} {
		fmt.Println(api.Status(err), err)
	}
	// Output:
	// 401 rotate session: sessions: refresh token reuse detected
	// 500 rotate session: sessions: unavailable
	// 400 invalid request: at is not in the future
}
