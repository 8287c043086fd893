package reminders_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sytefy/kit/reminders"
)

// A worker delivers due reminders; one whose retries are spent waits in
// the dead-letter set until it is requeued, deleted, or purged by age.
func ExampleRedisScheduler() {
	mr, err := miniredis.Run() // a real Redis in production
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	sched, err := reminders.NewRedisScheduler(rdb, reminders.WithMaxRetries(0))
	if err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	handled := make(chan string)
	worker := make(chan error)
	go func() {
		worker <- sched.Run(ctx, reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
			defer func() { handled <- d.ID }()
			if d.Kind == "invoices.overdue" {
				return errors.New("mail server down")
			}
			return nil
		}))
	}()

	for _, r := range []reminders.Reminder{
		{ID: "appointment:42", Kind: "appointments.send_reminder", DueAt: time.Now()},
		{ID: "invoice:7", Kind: "invoices.overdue", DueAt: time.Now()},
	} {
		if err := sched.Schedule(ctx, r); err != nil {
			panic(err)
		}
	}
	<-handled
	<-handled
	stop()
	fmt.Println("worker:", <-worker)

	dead, err := sched.Dead(context.Background(), 10)
	if err != nil {
		panic(err)
	}
	for _, d := range dead {
		fmt.Printf("dead: %s after %d attempt(s): %s\n", d.ID, d.Attempts, d.LastError)
	}
	// A retention period: delete what died more than 30 days ago (nothing
	// yet), then everything.
	n, _ := sched.PurgeDead(context.Background(), time.Now().AddDate(0, 0, -30))
	fmt.Println("purged:", n)
	n, _ = sched.PurgeDead(context.Background(), time.Now().Add(time.Minute))
	fmt.Println("purged:", n)
	// Output:
	// worker: <nil>
	// dead: invoice:7 after 1 attempt(s): mail server down
	// purged: 0
	// purged: 1
}
