package metrics_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/redis/go-redis/v9"

	"github.com/sytefy/kit/metrics"
	"github.com/sytefy/kit/reminders"
	"github.com/sytefy/kit/sessions"
)

// Wire the reminder metrics to your own registry and serve them with
// promhttp. The same Reminders value is the scheduler's observer and the
// registry's collector.
func ExampleNewReminders() {
	reg := prometheus.NewRegistry() // yours: nothing here touches the global registry
	m, err := metrics.NewReminders(metrics.WithKinds("appointments.send_reminder"))
	if err != nil {
		panic(err)
	}
	reg.MustRegister(m)

	mux := reminders.NewMux()
	attempts := 0
	mux.HandleFunc("appointments.send_reminder", func(ctx context.Context, d reminders.Delivery) error {
		if attempts++; attempts == 1 {
			return errors.New("smtp: try again")
		}
		return nil
	})
	sched, err := reminders.NewEagerScheduler(mux, reminders.WithObserver(m))
	if err != nil {
		panic(err)
	}
	_ = sched.Schedule(context.Background(), reminders.Reminder{
		ID: "appointment:42", Kind: "appointments.send_reminder", DueAt: time.Now(),
	})

	routes := http.NewServeMux() // your server's router
	routes.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	// Scrape it once, as Prometheus would, and print the counters.
	rec := httptest.NewRecorder()
	routes.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	printSamples(rec.Body.String(), "_total")
	// Output:
	// kit_reminders_dead_lettered_total{kind="appointments.send_reminder"} 0
	// kit_reminders_delivered_total{kind="appointments.send_reminder"} 2
	// kit_reminders_failed_total{kind="appointments.send_reminder"} 1
	// kit_reminders_retried_total{kind="appointments.send_reminder"} 1
	// kit_reminders_scheduled_total{kind="appointments.send_reminder"} 1
	// kit_reminders_succeeded_total{kind="appointments.send_reminder"} 1
}

// printSamples prints the samples of a text exposition whose metric name
// contains part.
func printSamples(exposition, part string) {
	sc := bufio.NewScanner(strings.NewReader(exposition))
	for sc.Scan() {
		line := sc.Text()
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		if !strings.HasPrefix(line, "#") && strings.Contains(name, part) {
			fmt.Println(line)
		}
	}
}

// Count a session store's events. Sessions is the store's observer and a
// collector.
func ExampleNewSessions() {
	reg := prometheus.NewRegistry()
	m, err := metrics.NewSessions(metrics.WithNamespace("booking"))
	if err != nil {
		panic(err)
	}
	reg.MustRegister(m)
	store, err := sessions.NewMemoryStore(sessions.WithObserver(m))
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	exp := time.Now().Add(24 * time.Hour)
	_ = store.Remember(ctx, sessions.Session{ID: "jti-1", UserID: "alice", ExpiresAt: exp})
	_, _ = store.Rotate(ctx, "alice", "jti-1", sessions.Session{ID: "jti-2", ExpiresAt: exp})
	_, err = store.Rotate(ctx, "alice", "jti-1", sessions.Session{ID: "jti-3", ExpiresAt: exp}) // a stolen token
	fmt.Println(errors.Is(err, sessions.ErrReuseDetected))

	printGathered(reg, "booking_sessions_rotated_total", "booking_sessions_reuse_detected_total",
		"booking_sessions_revoked_total")
	// Output:
	// true
	// booking_sessions_reuse_detected_total 1
	// booking_sessions_revoked_total{cause="evicted"} 0
	// booking_sessions_revoked_total{cause="reuse_detected"} 1
	// booking_sessions_revoked_total{cause="revoke"} 0
	// booking_sessions_revoked_total{cause="revoke_all"} 0
	// booking_sessions_rotated_total 1
}

// Report how many reminders wait in Redis, per shard, on each scrape.
func ExampleNewReminderStats() {
	mr, err := miniredis.Run() // a real Redis in production
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	sched, err := reminders.NewRedisScheduler(rdb)
	if err != nil {
		panic(err)
	}
	for _, id := range []string{"appointment:1", "appointment:2", "appointment:3"} {
		_ = sched.Schedule(context.Background(), reminders.Reminder{
			ID: id, Kind: "appointments.send_reminder", DueAt: time.Now().Add(time.Hour),
		})
	}

	reg := prometheus.NewRegistry()
	stats, err := metrics.NewReminderStats(sched, metrics.WithStatsTimeout(2*time.Second))
	if err != nil {
		panic(err)
	}
	reg.MustRegister(stats)

	printGathered(reg, "kit_reminders_pending", "kit_reminders_stats_up")
	// Output:
	// kit_reminders_pending{shard="0"} 3
	// kit_reminders_stats_up 1
}

// printGathered gathers g and prints the samples of the named families in
// the text exposition format.
func printGathered(g prometheus.Gatherer, names ...string) {
	families, err := g.Gather()
	if err != nil {
		panic(err)
	}
	var buf strings.Builder
	for _, f := range families {
		if slices.Contains(names, f.GetName()) {
			if _, err := expfmt.MetricFamilyToText(&buf, f); err != nil {
				panic(err)
			}
		}
	}
	printSamples(buf.String(), "")
}
