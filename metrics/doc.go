// Package metrics exports the reminders and sessions packages' events as
// Prometheus metrics, with github.com/prometheus/client_golang. It is a
// package of its own so that a service that does not import it does not
// build client_golang: reminders and sessions only define small Observer
// interfaces, and any metrics or tracing system can implement them the way
// this package does.
//
// Three collectors, each a prometheus.Collector that you register with
// your own prometheus.Registerer (this package never touches the global
// registry, and starts nothing until a scrape):
//
//   - [Reminders] is a reminders.Observer: counters of scheduled,
//     delivered, succeeded, failed, retried and dead-lettered reminders by
//     kind, a histogram of lateness (handler start minus due time) and one
//     of handler duration by kind.
//   - [ReminderStats] reads a [StatsSource] (a *reminders.RedisScheduler)
//     on each scrape: gauges of pending, in-flight and dead reminders per
//     shard, bounded by a timeout so that a slow Redis never hangs the
//     scrape.
//   - [Sessions] is a sessions.Observer: counters of remembered, rotated,
//     reused, revoked and evicted sessions and of backend errors (the
//     store failing closed).
//
// Wiring:
//
//	reg := prometheus.NewRegistry()
//	rm, _ := metrics.NewReminders()
//	sm, _ := metrics.NewSessions()
//	sched, _ := reminders.NewRedisScheduler(rdb, reminders.WithObserver(rm))
//	store, _ := sessions.NewRedisStore(rdb, sessions.WithObserver(sm))
//	stats, _ := metrics.NewReminderStats(sched)
//	reg.MustRegister(rm, sm, stats)
//	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{})) // your router
//
// Every metric, with the default namespace "kit" (WithNamespace changes
// it; WithConstLabels adds labels to all of them). Names follow the
// Prometheus conventions: base units (seconds), _total on counters.
//
//	kit_reminders_scheduled_total{kind}            counter    Reminders
//	kit_reminders_delivered_total{kind}            counter    Reminders
//	kit_reminders_succeeded_total{kind}            counter    Reminders
//	kit_reminders_failed_total{kind}               counter    Reminders
//	kit_reminders_retried_total{kind}              counter    Reminders
//	kit_reminders_dead_lettered_total{kind}        counter    Reminders
//	kit_reminders_lateness_seconds                 histogram  Reminders
//	kit_reminders_handler_duration_seconds{kind}   histogram  Reminders
//	kit_reminders_pending{shard}                   gauge      ReminderStats
//	kit_reminders_in_flight{shard}                 gauge      ReminderStats
//	kit_reminders_dead{shard}                      gauge      ReminderStats
//	kit_reminders_stats_up                         gauge      ReminderStats
//	kit_reminders_stats_errors_total               counter    ReminderStats
//	kit_sessions_remembered_total                  counter    Sessions
//	kit_sessions_rotated_total                     counter    Sessions
//	kit_sessions_reuse_detected_total              counter    Sessions
//	kit_sessions_revoke_calls_total                counter    Sessions
//	kit_sessions_revoke_all_calls_total            counter    Sessions
//	kit_sessions_revoked_total{cause}              counter    Sessions
//	kit_sessions_backend_errors_total              counter    Sessions
//
// The counters are per process: each instance exports its own and
// Prometheus sums them (sum by (kind) (rate(...))). The gauges describe
// the shared Redis, so every instance that registers a ReminderStats
// reports the same numbers: register it on one instance, or aggregate
// with max rather than sum.
package metrics
