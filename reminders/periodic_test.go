package reminders_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

func minuteJob(kind string) func(tick time.Time) reminders.Reminder {
	return func(tick time.Time) reminders.Reminder {
		return reminders.Reminder{Kind: kind, Payload: []byte(tick.Format(time.RFC3339))}
	}
}

// Each tick stores one reminder, whose ID is the name and the tick, due at
// the tick; the first Start stores nothing (no tick was missed).
func TestPeriodicFiresEachTick(t *testing.T) {
	start := time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC)
	h := newTickHarness(t, start)
	p := h.periodic(t)
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("report.send")))
	require.NoError(t, p.Start(ctxT(t)))
	h.none(t, 1)

	for i := 1; i <= 3; i++ {
		tick := start.Truncate(time.Minute).Add(time.Duration(i) * time.Minute)
		h.advanceTo(t, 1, tick.Add(-time.Second))
		h.none(t, 1)
		h.advanceTo(t, 1, tick)
		d := h.next(t)
		assert.Equal(t, "report@"+tick.Format("2006-01-02T15:04Z"), d.ID)
		assert.Equal(t, "report.send", d.Kind)
		assert.True(t, tick.Equal(d.DueAt), "DueAt %s, want the tick %s", d.DueAt, tick)
		assert.Equal(t, tick.Format(time.RFC3339), string(d.Payload), "build got the tick")
	}
	h.none(t, 1)
}

// All instances down for several ticks: the next Start stores one
// reminder, for the latest missed tick, then ticks go on.
func TestPeriodicCatchesUpOnceOnTheLatestMissedTick(t *testing.T) {
	start := time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC)
	h := newTickHarness(t, start)
	p := h.periodic(t)
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	require.NoError(t, p.Start(ctxT(t)))
	h.advanceTo(t, 1, time.Date(2025, 5, 1, 10, 1, 0, 0, time.UTC))
	assert.Equal(t, "report@2025-05-01T10:01Z", h.next(t).ID)
	require.NoError(t, p.Shutdown(ctxT(t)))

	// Down from 10:01:00 to 10:07:30: ticks 10:02 to 10:07 missed.
	h.clock.Advance(6*time.Minute + 30*time.Second)
	require.NoError(t, p.Start(ctxT(t)))
	d := h.next(t)
	assert.Equal(t, "report@2025-05-01T10:07Z", d.ID)
	assert.True(t, time.Date(2025, 5, 1, 10, 7, 0, 0, time.UTC).Equal(d.DueAt))
	h.none(t, 1)

	// A restart within the same period catches up on nothing.
	require.NoError(t, p.Shutdown(ctxT(t)))
	require.NoError(t, p.Start(ctxT(t)))
	h.none(t, 1)

	h.advanceTo(t, 1, time.Date(2025, 5, 1, 10, 8, 0, 0, time.UTC))
	assert.Equal(t, "report@2025-05-01T10:08Z", h.next(t).ID)
	h.none(t, 1)
}

// steppedClock is a fake clock whose wall time (Now) can be stepped back
// while its timers keep running on the fake's own time, as gocron's timers
// run on the monotonic clock while NTP steps the wall clock.
type steppedClock struct {
	*clockwork.FakeClock
	back atomic.Int64 // how far Now reads behind the fake's time, ns
}

func (c *steppedClock) Now() time.Time                  { return c.FakeClock.Now().Add(-time.Duration(c.back.Load())) }
func (c *steppedClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }
func (c *steppedClock) Until(t time.Time) time.Duration { return t.Sub(c.Now()) }

// A wall clock stepped back a little while gocron's timer for the next
// tick is armed: the timer fires when the clock reads just before the
// tick. The firing still stores that tick (it is not taken for the tick
// already stored, which would lose it), and the ticks after it follow.
func TestPeriodicClockSteppedBack(t *testing.T) {
	start := time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC)
	h := newTickHarness(t, start)
	clock := &steppedClock{FakeClock: h.clock}
	p := h.periodic(t, reminders.WithPeriodicClock(clock))
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	require.NoError(t, p.Start(ctxT(t)))
	h.advanceTo(t, 1, time.Date(2025, 5, 1, 10, 1, 0, 0, time.UTC))
	assert.Equal(t, "report@2025-05-01T10:01Z", h.next(t).ID)

	h.settle(t, 1) // the 10:02 timer is armed; then the step
	const step = 5 * time.Millisecond
	clock.back.Store(int64(step))
	h.advanceTo(t, 1, time.Date(2025, 5, 1, 10, 2, 0, 0, time.UTC)) // Now reads 10:01:59.995
	d := h.next(t)
	assert.Equal(t, "report@2025-05-01T10:02Z", d.ID, "the tick gocron fired for")
	assert.True(t, time.Date(2025, 5, 1, 10, 2, 0, 0, time.UTC).Equal(d.DueAt))

	// gocron armed the next timer by the stepped clock: it fires when that
	// reads 10:03.
	h.advanceTo(t, 1, time.Date(2025, 5, 1, 10, 3, 0, 0, time.UTC).Add(step))
	assert.Equal(t, "report@2025-05-01T10:03Z", h.next(t).ID)
	h.none(t, 1)
}

// Two instances on one store fire the same tick: one reminder. The loser
// checks after its grace period and finds it stored.
func TestPeriodicInstancesStoreOneReminderPerTick(t *testing.T) {
	start := time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC)
	h := newTickHarness(t, start)
	ps := []*reminders.Periodic{h.periodic(t), h.periodic(t), h.periodic(t)}
	for _, p := range ps {
		require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
		require.NoError(t, p.Start(ctxT(t)))
	}
	for i := 1; i <= 3; i++ {
		tick := time.Date(2025, 5, 1, 10, i, 0, 0, time.UTC)
		h.advanceTo(t, 3, tick)
		assert.Equal(t, "report@"+tick.Format("2006-01-02T15:04Z"), h.next(t).ID)
		// Two losers wait out the grace period (a quarter of the period)
		// beside the three re-armed timers, then see the tick stored.
		h.advanceTo(t, 5, tick.Add(15*time.Second))
		h.none(t, 3)
	}
}

// A claimer that dies between claiming a tick and storing it is covered by
// a peer after the grace period.
func TestPeriodicPeerStoresTickOfDeadClaimer(t *testing.T) {
	start := time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC)
	h := newTickHarness(t, start)
	p := h.periodic(t)
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	require.NoError(t, p.Start(ctxT(t)))

	tick := time.Date(2025, 5, 1, 10, 1, 0, 0, time.UTC)
	claimAndDie(t, h, tick)

	h.advanceTo(t, 1, tick)
	h.none(t, 2) // the timer, and the peer's grace sleep
	h.advanceTo(t, 2, tick.Add(15*time.Second))
	assert.Equal(t, "report@2025-05-01T10:01Z", h.next(t).ID)
	waitDone(t, h, tick)
}

// flakyScheduler fails its first n calls with ErrUnavailable.
type flakyScheduler struct {
	reminders.Scheduler
	fails chan struct{}
}

func (f flakyScheduler) Schedule(ctx context.Context, r reminders.Reminder) error {
	select {
	case <-f.fails:
		return reminders.ErrUnavailable
	default:
		return f.Scheduler.Schedule(ctx, r)
	}
}

// While the scheduler is unavailable, a tick is retried with backoff.
func TestPeriodicRetriesWhileUnavailable(t *testing.T) {
	start := time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC)
	h := newTickHarness(t, start)
	fails := make(chan struct{}, 2)
	fails <- struct{}{}
	fails <- struct{}{}
	p := h.periodicOn(t, flakyScheduler{Scheduler: h.sched, fails: fails})
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	require.NoError(t, p.Start(ctxT(t)))

	tick := time.Date(2025, 5, 1, 10, 1, 0, 0, time.UTC)
	h.advanceTo(t, 1, tick)
	h.advanceTo(t, 2, tick.Add(100*time.Millisecond)) // first backoff
	h.advanceTo(t, 2, tick.Add(300*time.Millisecond)) // second, doubled
	assert.Equal(t, "report@2025-05-01T10:01Z", h.next(t).ID)
	assert.Empty(t, fails)
}

// A build function that panics or returns an invalid reminder is logged,
// not retried, and does not stop later ticks.
func TestPeriodicSurvivesBadBuild(t *testing.T) {
	start := time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC)
	h := newTickHarness(t, start)
	p := h.periodic(t)
	calls := 0
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), func(tick time.Time) reminders.Reminder {
		calls++
		switch calls {
		case 1:
			panic("bug")
		case 2:
			return reminders.Reminder{} // no Kind
		}
		return reminders.Reminder{Kind: "k"}
	}))
	require.NoError(t, p.Start(ctxT(t)))
	h.advanceTo(t, 1, time.Date(2025, 5, 1, 10, 1, 0, 0, time.UTC))
	h.none(t, 1)
	h.advanceTo(t, 1, time.Date(2025, 5, 1, 10, 2, 0, 0, time.UTC))
	h.none(t, 1)
	h.advanceTo(t, 1, time.Date(2025, 5, 1, 10, 3, 0, 0, time.UTC))
	assert.Equal(t, "report@2025-05-01T10:03Z", h.next(t).ID)
	assert.Equal(t, 3, calls)
}

func TestPeriodicRegisterRejects(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC))
	p := h.periodic(t)
	build := minuteJob("k")
	every := gocron.DurationJob(time.Minute)
	require.NoError(t, p.Register("taken", every, build))

	tests := []struct {
		name, jobName, want string
		def                 gocron.JobDefinition
		build               func(time.Time) reminders.Reminder
	}{
		{"EmptyName", "", "name", every, build},
		{"LongName", strings.Repeat("n", 225), "name", every, build},
		{"ControlInName", "a\nb", "name", every, build},
		{"Duplicate", "taken", "already registered", every, build},
		{"NilBuild", "x", "build", every, nil},
		{"NilDefinition", "x", "definition", nil, build},
		{"IntervalTwo", "x", "interval", gocron.DailyJob(2, gocron.NewAtTimes(gocron.NewAtTime(9, 0, 0))), build},
		{"BadCrontab", "x", "crontab", gocron.CronJob("not a crontab", false), build},
		// Refused by our own reading, not by a panic recovered from
		// gocron's parser ("slice bounds out of range").
		{"ZoneWithoutSchedule", "x", `crontab "CRON_TZ=UTC": a time zone and no schedule`, gocron.CronJob("CRON_TZ=UTC", false), build},
		{"TZWithoutSchedule", "x", "a time zone and no schedule", gocron.CronJob("TZ=Europe/Berlin", false), build},
		{"TabAfterZone", "x", "malformed time zone", gocron.CronJob("CRON_TZ=UTC\t0 9 * * *", false), build},
		{"EmptyZone", "x", "malformed time zone", gocron.CronJob("CRON_TZ= 0 9 * * *", false), build},
		{"LocalCronTZ", "x", `"Local" is each host's own`, gocron.CronJob("CRON_TZ=Local 0 9 * * *", false), build},
		{"LocalTZ", "x", `"Local" is each host's own`, gocron.CronJob("TZ=Local 0 9 * * *", false), build},
		// gocron's parser still has its say: six fields need withSeconds.
		{"SecondsWithoutFlag", "x", "5 fields", gocron.CronJob("0 30 9 * * *", false), build},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Register(tc.jobName, tc.def, tc.build)
			require.ErrorIs(t, err, reminders.ErrInvalid)
			assert.ErrorContains(t, err, tc.want)
			assert.NotContains(t, err.Error(), "runtime error")
			assert.NotContains(t, err.Error(), "panic")
		})
	}

	require.NoError(t, p.Start(ctxT(t)))
	err := p.Register("late", every, build)
	assert.ErrorIs(t, err, reminders.ErrInvalid, "Register while running")
}

func TestNewPeriodicRejects(t *testing.T) {
	_, err := reminders.NewPeriodic(nil)
	assert.ErrorIs(t, err, reminders.ErrInvalid)
	_, err = reminders.NewPeriodic((*reminders.RedisScheduler)(nil))
	assert.ErrorIs(t, err, reminders.ErrInvalid, "a typed nil scheduler")
	s, err := reminders.NewEagerScheduler(reminders.HandlerFunc(func(context.Context, reminders.Delivery) error { return nil }))
	require.NoError(t, err)
	for name, opt := range map[string]reminders.PeriodicOption{
		"WithTimeZone":       reminders.WithTimeZone(nil),
		"WithTickStore":      reminders.WithTickStore(nil),
		"WithPeriodicClock":  reminders.WithPeriodicClock(nil),
		"WithPeriodicLogger": reminders.WithPeriodicLogger(nil),
		// Typed nils pass a "c == nil" check and panic at first use.
		"WithPeriodicClock typed nil": reminders.WithPeriodicClock((*clockwork.FakeClock)(nil)),
		// Each host's own zone: instances would disagree on the ticks.
		"WithTimeZone Local": reminders.WithTimeZone(time.Local),
	} {
		_, err := reminders.NewPeriodic(s, opt)
		require.ErrorIs(t, err, reminders.ErrInvalid, name)
		assert.ErrorContains(t, err, strings.Fields(name)[0])
	}
	_, err = reminders.NewPeriodic(s, reminders.WithTickStore((*reminders.RedisTickStore)(nil)))
	assert.ErrorIs(t, err, reminders.ErrInvalid, "a typed nil tick store")
}

// Start and Shutdown are safe twice, and Shutdown before Start.
func TestPeriodicStartShutdownTwice(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC))
	p := h.periodic(t)
	require.NoError(t, p.Shutdown(ctxT(t)))
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	require.NoError(t, p.Start(ctxT(t)))
	require.NoError(t, p.Start(ctxT(t)))
	h.advanceTo(t, 1, time.Date(2025, 5, 1, 10, 1, 0, 0, time.UTC))
	assert.Equal(t, "report@2025-05-01T10:01Z", h.next(t).ID, "one reminder, not one per Start")
	h.none(t, 1)
	require.NoError(t, p.Shutdown(ctxT(t)))
	require.NoError(t, p.Shutdown(ctxT(t)))
}

// A store that fails: the tick is retried, then given up when the next one
// is due; the Periodic keeps running.
type downStore struct{}

func (downStore) Claim(context.Context, string, time.Time) (bool, error) {
	return false, reminders.ErrUnavailable
}
func (downStore) Done(context.Context, string, time.Time) error { return reminders.ErrUnavailable }
func (downStore) Marks(context.Context, string) (time.Time, time.Time, error) {
	return time.Time{}, time.Time{}, errors.Join(reminders.ErrUnavailable, errors.New("down"))
}

func TestPeriodicStartsWhenStoreIsDown(t *testing.T) {
	h := newTickHarness(t, time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC))
	p := h.periodic(t, reminders.WithTickStore(downStore{}))
	require.NoError(t, p.Register("report", gocron.DurationJob(time.Minute), minuteJob("k")))
	require.NoError(t, p.Start(ctxT(t)), "a failed catch-up is retried, not fatal")
	// The catch-up's reads back off (100 ms, doubling) and give up before
	// the 10:01 tick, which supersedes the 10:00 one.
	for _, d := range []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000} {
		h.advanceTo(t, 2, h.clock.Now().Add(d*time.Millisecond))
	}
	h.advanceTo(t, 1, time.Date(2025, 5, 1, 10, 1, 0, 0, time.UTC))
	h.none(t, 2) // timer and the firing's retry backoff
}
