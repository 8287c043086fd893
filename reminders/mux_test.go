package reminders_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

func delivery(kind string) reminders.Delivery {
	return reminders.Delivery{Reminder: reminders.Reminder{ID: "id", Kind: kind, DueAt: time.Now()}, Attempt: 1}
}

func TestMuxRoutesByKind(t *testing.T) {
	mux := reminders.NewMux()
	var got []string
	errB := errors.New("b failed")
	mux.HandleFunc("a", func(_ context.Context, d reminders.Delivery) error {
		got = append(got, "a:"+d.ID)
		return nil
	})
	mux.Handle("b", reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
		got = append(got, "b:"+d.ID)
		return errB
	}))

	require.NoError(t, mux.HandleReminder(context.Background(), delivery("a")))
	assert.ErrorIs(t, mux.HandleReminder(context.Background(), delivery("b")), errB, "the handler's error is returned as is")
	assert.Equal(t, []string{"a:id", "b:id"}, got)
}

func TestMuxUnknownKind(t *testing.T) {
	mux := reminders.NewMux()
	mux.HandleFunc("known", func(context.Context, reminders.Delivery) error { return nil })
	err := mux.HandleReminder(context.Background(), delivery("unknown.kind"))
	require.ErrorIs(t, err, reminders.ErrNoHandler)
	assert.ErrorContains(t, err, `"unknown.kind"`)
}

// The zero value is an empty Mux, as http.ServeMux's is.
func TestMuxZeroValue(t *testing.T) {
	var mux reminders.Mux
	require.ErrorIs(t, mux.HandleReminder(context.Background(), delivery("k")), reminders.ErrNoHandler)
	mux.HandleFunc("k", func(context.Context, reminders.Delivery) error { return nil })
	assert.NoError(t, mux.HandleReminder(context.Background(), delivery("k")))
}

func TestMuxHandleReplaces(t *testing.T) {
	mux := reminders.NewMux()
	mux.HandleFunc("k", func(context.Context, reminders.Delivery) error { return errors.New("old") })
	mux.HandleFunc("k", func(context.Context, reminders.Delivery) error { return nil })
	assert.NoError(t, mux.HandleReminder(context.Background(), delivery("k")))
}

// Registration mistakes are programming errors found at start-up, as with
// http.ServeMux.
func TestMuxHandlePanicsOnMisuse(t *testing.T) {
	mux := reminders.NewMux()
	ok := reminders.HandlerFunc(func(context.Context, reminders.Delivery) error { return nil })
	assert.PanicsWithValue(t, "reminders: invalid: Mux.Handle: Kind is empty", func() { mux.Handle("", ok) })
	assert.Panics(t, func() { mux.Handle("bad\nkind", ok) }, "no Reminder can have this Kind")
	assert.Panics(t, func() { mux.Handle(strings.Repeat("k", 257), ok) }, "over the Kind limit")
	assert.Panics(t, func() { mux.Handle("k", nil) })
	assert.Panics(t, func() { mux.Handle("k", reminders.HandlerFunc(nil)) }, "typed nil")
	assert.Panics(t, func() { mux.Handle("k", (*reminders.Mux)(nil)) }, "typed nil")
	assert.Panics(t, func() { mux.HandleFunc("k", nil) })
	assert.NotPanics(t, func() { mux.Handle(strings.Repeat("k", 256), ok) })
}

// Handlers may be added while workers deliver (run with -race).
func TestMuxConcurrentHandleAndDeliver(t *testing.T) {
	mux := reminders.NewMux()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		kind := fmt.Sprintf("kind-%d", i)
		go func() {
			defer wg.Done()
			mux.HandleFunc(kind, func(context.Context, reminders.Delivery) error { return nil })
		}()
		go func() {
			defer wg.Done()
			for range 100 {
				err := mux.HandleReminder(context.Background(), delivery(kind))
				if err != nil {
					assert.ErrorIs(t, err, reminders.ErrNoHandler) // not registered yet
				}
			}
		}()
	}
	wg.Wait()
	for i := range 8 {
		assert.NoError(t, mux.HandleReminder(context.Background(), delivery(fmt.Sprintf("kind-%d", i))))
	}
}
