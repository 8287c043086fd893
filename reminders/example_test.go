package reminders_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"

	"github.com/sytefy/kit/reminders"
)

// A Mux routes reminders to handlers by Kind. Here the eager scheduler
// delivers them at once; a RedisScheduler's workers would deliver them at
// their due time.
func ExampleNewMux() {
	mux := reminders.NewMux()
	mux.HandleFunc("appointments.send_reminder", func(_ context.Context, d reminders.Delivery) error {
		fmt.Printf("reminding: %s %s\n", d.ID, d.Payload)
		return nil
	})
	mux.HandleFunc("invoices.overdue", func(_ context.Context, d reminders.Delivery) error {
		fmt.Printf("invoice overdue: %s\n", d.ID)
		return nil
	})

	s, err := reminders.NewEagerScheduler(mux, reminders.WithMaxRetries(0))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	due := time.Date(2025, 3, 10, 8, 30, 0, 0, time.UTC)
	_ = s.Schedule(ctx, reminders.Reminder{
		ID: "appointment:42:30m", Kind: "appointments.send_reminder", DueAt: due,
		Payload: []byte(`{"patient":"Ada"}`),
	})
	_ = s.Schedule(ctx, reminders.Reminder{ID: "invoice:7", Kind: "invoices.overdue", DueAt: due})

	err = s.Schedule(ctx, reminders.Reminder{ID: "x:1", Kind: "newsletter.weekly", DueAt: due})
	fmt.Println(errors.Is(err, reminders.ErrNoHandler))
	// Output:
	// reminding: appointment:42:30m {"patient":"Ada"}
	// invoice overdue: invoice:7
	// true
}

// The eager scheduler runs the handler inside Schedule, retries included,
// and returns the final error: tests need no Redis and no worker.
func ExampleEagerScheduler() {
	errSMTP := errors.New("smtp: 421 try again later")
	send := reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
		fmt.Printf("attempt %d\n", d.Attempt)
		if d.Payload == nil || d.Attempt < 3 {
			return errSMTP
		}
		return nil
	})
	s, err := reminders.NewEagerScheduler(send, reminders.WithMaxRetries(2))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	due := time.Now().Add(time.Hour) // eager: handled now, whatever DueAt

	err = s.Schedule(ctx, reminders.Reminder{ID: "r1", Kind: "mail", DueAt: due, Payload: []byte("{}")})
	fmt.Println("r1:", err)

	err = s.Schedule(ctx, reminders.Reminder{ID: "r2", Kind: "mail", DueAt: due})
	fmt.Println("r2:", errors.Is(err, errSMTP), errors.Is(err, reminders.ErrHandlerFailed))
	fmt.Println(err)
	// Output:
	// attempt 1
	// attempt 2
	// attempt 3
	// r1: <nil>
	// attempt 1
	// attempt 2
	// attempt 3
	// r2: true true
	// reminders: handler failed: reminder "r2" (kind "mail"), attempt 3 of 3: smtp: 421 try again later
}

// A Periodic stores one reminder per tick of a gocron schedule, with an ID
// made of the name and the tick. Here a 09:00 daily digest in New York runs
// on a fake clock across the spring-forward night: 09:00 is 14:00 UTC one
// day and 13:00 UTC the next. In production, every instance runs the same
// Periodic on a RedisScheduler, and the ticks still yield one reminder
// each.
func ExamplePeriodic() {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	got := make(chan reminders.Delivery, 1)
	s, err := reminders.NewEagerScheduler(reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
		got <- d
		return nil
	}))
	if err != nil {
		panic(err)
	}
	clock := clockwork.NewFakeClockAt(time.Date(2025, 3, 8, 8, 0, 0, 0, ny))
	p, err := reminders.NewPeriodic(s, reminders.WithTimeZone(ny), reminders.WithPeriodicClock(clock))
	if err != nil {
		panic(err)
	}
	err = p.Register("digest", gocron.CronJob("0 9 * * *", false), func(tick time.Time) reminders.Reminder {
		return reminders.Reminder{Kind: "digest.send", Payload: []byte(tick.Format("Mon 15:04 MST"))}
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := p.Start(ctx); err != nil {
		panic(err)
	}
	defer func() { _ = p.Shutdown(ctx) }()

	for day := 8; day <= 9; day++ {
		_ = clock.BlockUntilContext(ctx, 1) // gocron's timer is armed
		clock.Advance(clock.Until(time.Date(2025, 3, day, 9, 0, 0, 0, ny)))
		d := <-got
		fmt.Println(d.ID, string(d.Payload))
	}
	// Output:
	// digest@2025-03-08T14:00Z Sat 09:00 EST
	// digest@2025-03-09T13:00Z Sun 09:00 EDT
}
