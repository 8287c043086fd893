// Command worker only delivers reminders: it runs reminder workers
// against the Redis at REDIS_URL (the role of a Celery worker), beside API
// instances started with REMINDER_WORKERS=0, or to add delivery capacity.
// Any number of workers may run: each due reminder is claimed by one.
//
//	REDIS_URL=redis://localhost:6379/0 go run ./worker
//
// On SIGINT or SIGTERM it stops claiming, lets running handlers finish
// (up to the scheduler's shutdown timeout) and releases the rest to other
// workers.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sytefy/kit/examples/internal/boot"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := boot.Worker(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}
