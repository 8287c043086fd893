package reminders

import (
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"
)

// PeriodicOption configures a Periodic (NewPeriodic). Nil options are
// ignored. An option given twice takes the last value.
type PeriodicOption func(*periodicOptions) error

type periodicOptions struct {
	loc    *time.Location
	store  TickStore
	clock  clockwork.Clock
	logger *slog.Logger
}

func newPeriodicOptions(opts []PeriodicOption) (periodicOptions, error) {
	o := periodicOptions{
		loc:    time.UTC,
		clock:  clockwork.NewRealClock(),
		logger: slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return periodicOptions{}, err
		}
	}
	return o, nil
}

// WithTimeZone sets the time zone of calendar schedules that do not name
// their own (a CronJob without a "CRON_TZ=" or "TZ=" prefix, DailyJob,
// WeeklyJob), and of the tick times handed to build functions. Every
// instance must use the same, so time.Local, which is each host's own
// zone, is refused (ErrInvalid): load the zone by name. Default: UTC.
func WithTimeZone(loc *time.Location) PeriodicOption {
	return func(o *periodicOptions) error {
		if loc == nil {
			return invalidOption("WithTimeZone: nil location")
		}
		if err := sharedZone(loc); err != nil {
			return invalidOption("WithTimeZone: %v", err)
		}
		o.loc = loc
		return nil
	}
}

// WithTickStore sets where ticks are claimed and marked done. Every
// instance must share it (a RedisTickStore) for one reminder per tick.
// Default: a RedisTickStore on the scheduler's client and prefix when the
// scheduler is a *RedisScheduler, otherwise a MemoryTickStore.
func WithTickStore(ts TickStore) PeriodicOption {
	return func(o *periodicOptions) error {
		if isNilValue(ts) {
			return invalidOption("WithTickStore: nil store")
		}
		o.store = ts
		return nil
	}
}

// WithPeriodicClock sets the clock that drives the schedules (gocron's
// timers included), for tests: clockwork.NewFakeClockAt. Default: the real
// clock.
func WithPeriodicClock(c clockwork.Clock) PeriodicOption {
	return func(o *periodicOptions) error {
		if isNilValue(c) {
			return invalidOption("WithPeriodicClock: nil clock")
		}
		o.clock = c
		return nil
	}
}

// WithPeriodicLogger sets the logger. Records carry periodic (the name),
// reminder_id and tick. gocron logs through it too: its routine INFO
// records (scheduler created, started) at DEBUG, its warnings and errors
// at their own level. Default: discard.
func WithPeriodicLogger(l *slog.Logger) PeriodicOption {
	return func(o *periodicOptions) error {
		if l == nil {
			return invalidOption("WithPeriodicLogger: nil logger")
		}
		o.logger = l
		return nil
	}
}
