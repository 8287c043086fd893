// Package reminders is a delayed-job scheduler for reminders ("send the
// appointment reminder 30 minutes before the appointment"): a Scheduler
// stores a Reminder for a due time, and a Handler receives it then, at
// least once, with retries and a dead-letter set. It replaces a Celery
// worker with countdown/eta tasks and Celery beat.
//
// # Concepts
//
// A [Reminder] is an ID, a Kind, a due time (DueAt) and an opaque Payload.
// The Kind selects the handler: a [Mux] routes each Kind to its own.
//
// The ID is the idempotency key. Scheduling an ID that is already stored
// (pending, in flight or dead) replaces the reminder (new Kind, DueAt and
// Payload; attempts start again at 1), so derive IDs from what is reminded of ("appointment:42:30m"):
// a retried request, a reschedule, or N instances scheduling the same thing
// store one reminder. Handlers get the ID too, and should use it as the
// idempotency key of what they send, because delivery is at least once.
//
// At-least-once delivery: a reminder is delivered until its handler returns
// nil, it is cancelled, or its retries are spent. A worker that crashes
// mid-handler loses nothing, and so the same reminder can be handled twice:
// a handler must tolerate that (check before sending, or send with the ID as
// the provider's idempotency key).
//
// A lease (visibility timeout, [WithLease]) is how a claim survives a
// crash: a worker claims a due reminder by moving it to a lease set with a
// deadline, and renews the lease while the handler runs. A worker killed
// with SIGKILL stops renewing; when the deadline passes, the reminder is
// due again and another worker delivers it, as attempt+1.
//
// A failed attempt (an error, a panic, a Kind the Mux does not know) is
// retried after a backoff: a ceiling exponential from the minimum to the
// maximum of [WithBackoff] (at most [MaxBackoff], 24h), with full jitter
// (a uniform draw from zero to the ceiling, both included, the same on
// both backends), so that reminders failing together do not retry
// together. After
// [WithMaxRetries] retries (default 3) the reminder is a dead letter: it is
// kept in a dead set with its last error, where [RedisScheduler.Dead]
// lists it, [RedisScheduler.Requeue] schedules it again and
// [RedisScheduler.DeleteDead] deletes it. Nothing else trims the dead set:
// call [RedisScheduler.PurgeDead] now and then to keep a retention period.
//
// Eager mode ([EagerScheduler], Celery's task_always_eager) runs the handler
// inside Schedule, whatever the due time, retries included, and returns its
// final error: development and tests need no Redis and no worker. Code
// written against the [Scheduler] interface runs on either backend.
//
// Shards and hash tags: the Redis backend keeps each shard's keys under one
// hash tag, {<prefix>:<shard>}, so that every Lua script touches a single
// Redis Cluster slot, and spreads reminders over [WithShards] shards by a
// hash of the ID, so that a cluster's masters share the load. Within a
// shard, the due index is split into small sorted sets that Redis keeps in
// its compact encoding, and a pending reminder's record names its Kind by
// an 11-byte reference: a pending reminder with a 77-byte payload costs
// Redis about 200 bytes, about a third of what asynq's takes.
//
// Time: due times are judged in Redis server time, not the worker's. A
// worker reads Redis TIME (per cluster master) every 30 seconds and counts
// the time since on its monotonic clock, erring late by a round trip, so a
// host whose clock is minutes off, or is stepped by NTP, neither fires early
// nor late. A shard is served once its master's TIME is read: a worker
// started while one master is down serves the others'. The claim script
// also never looks past the server's own TIME, so not even a failover to
// a master whose clock is behind makes a reminder early. Due times are kept in Unix milliseconds, rounded up, and
// must lie within ±(2^53-1) ms of 1970 (about year ±287,000), what a Lua
// number or sorted-set score holds exactly.
//
// Recurring reminders ([Periodic], Celery beat) store one reminder per tick
// of a gocron schedule, with an ID derived from the schedule's name and the
// tick, in every instance at once, with a defined policy for missed ticks
// and daylight-saving time.
//
// # Guarantees, and what they rest on
//
//   - Never lost: a stored reminder is delivered, cancelled or dead-lettered.
//     This rests on Redis keeping what it acknowledged: run it with
//     persistence (AOF) and maxmemory-policy noeviction.
//   - Never early: no handler sees a reminder before its DueAt by the Redis
//     clock (the eager scheduler excepted, by design), whatever the
//     worker's host clock says. This rests on the Redis hosts' clocks not
//     being stepped back (NTP slews them).
//   - One claim at a time: a due reminder is claimed by one Lua script, so
//     any number of workers never handle it twice, crashes and expired
//     leases aside (a lease shorter than a handler's run is renewed, not
//     lost, while its worker lives). Two handlers of one ID can also
//     overlap when it is rescheduled while a handler runs (the new
//     reminder may be delivered before the superseded attempt, whose
//     context is cancelled, returns) and when a handler outlives
//     [WithShutdownTimeout] (its reminder is released to other workers
//     with the same Attempt).
//   - Reschedule and cancel win races: each claim carries the reminder's
//     version, so the outcome of an attempt overtaken by a reschedule or a
//     cancel is ignored.
//   - Fail safe: while Redis is unreachable, Schedule and Cancel return
//     errors wrapping [ErrUnavailable] (a script or a transaction runs
//     whole or not at all) and workers keep retrying with backoff.
//   - Bad input (an empty or over-long ID or Kind, control characters, a
//     zero or out-of-range DueAt, a payload over [WithMaxPayload]) returns
//     an error wrapping [ErrInvalid] that names the field, and stores
//     nothing.
//   - A script run twice loses nothing. go-redis sends a command again, on
//     a new connection, when it lost the reply (a connection that dropped,
//     a read that timed out), up to MaxRetries times, so Redis may run one
//     call's script twice. Schedule, acknowledgements, retries, lease
//     renewals and releases do the same thing again, or nothing, with one
//     exception: a reminder claimed between a Schedule's two runs has its
//     claim dropped by the second, as by a reschedule, and is delivered
//     again (at least once, possibly while the first delivery runs). A claim
//     run twice claims a second batch; the first batch's leases then
//     expire, and those reminders are taken back as after a worker crash,
//     one lease later, with Attempt one higher (one on its last attempt is
//     dead-lettered as "lease expired" without having run). Cancel and
//     Requeue run twice report ErrNotFound, although the first run did the
//     work: afterwards, as they promise, nothing is pending (Cancel) or
//     the reminder is (Requeue).
//
// The conformance suite in package remindertest checks the behaviour both
// backends share; each backend's tests run it.
//
// # Observability
//
// [WithLogger] takes a *slog.Logger (default: discard); records carry
// task_name (the Kind), reminder_id and attempt. [WithObserver] receives an
// [Event] for every state change (scheduled, delivered, succeeded, failed,
// retried, dead), for metrics; the Prometheus collector lives in its own
// package so that this one does not import client_golang.
package reminders
