package reminders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
)

// This file is what Periodic takes from gocron and hands to it: reading a
// job definition, the Cron that fires at our ticks, its logger, and the
// count of its firings in progress.

// describe asks gocron how it reads def, with loc as the scheduler's time
// zone. A gocron scheduler is the only reader of a JobDefinition; this one
// is never started and is shut down before describe returns.
//
// A crontab is read twice. First with crontabCheck as the job's Cron, so
// that parseCronTicks judges it before gocron's own parser (robfig/cron)
// sees it: that parser panics on some malformed "TZ=" prefixes ("CRON_TZ=UTC"
// with no schedule slices out of range). Then, once it is known to be well
// formed, by gocron's parser, which alone knows the CronJob's withSeconds
// flag (a 6-field crontab needs it).
func describe(def gocron.JobDefinition, loc *time.Location) (js gocron.JobSchedule, err error) {
	if def == nil {
		return nil, errors.New("nil job definition")
	}
	s, err := gocron.NewScheduler(gocron.WithLocation(loc))
	if err != nil {
		return nil, err
	}
	defer func() { _ = s.Shutdown() }()
	// A last line only: no crontab reaches gocron's parser unchecked, but
	// gocron itself panics on some other definitions (OneTimeJob(nil)),
	// and a bad definition must be an error, not a crash.
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("gocron panicked reading the job definition: %v", v)
		}
	}()
	j, err := s.NewJob(def, gocron.NewTask(func() {}), gocron.WithCronImplementation(crontabCheck{loc}))
	if err != nil {
		return nil, err
	}
	js = j.Schedule()
	if _, ok := js.(gocron.CronJobSchedule); ok {
		if _, err := s.NewJob(def, gocron.NewTask(func() {})); err != nil {
			return nil, err
		}
	}
	return js, nil
}

// crontabCheck is a Cron that only validates, with parseCronTicks: it
// reads a crontab the way Periodic will, before gocron's parser does.
type crontabCheck struct{ loc *time.Location }

func (c crontabCheck) IsValid(crontab string, _ *time.Location, _ time.Time) error {
	_, err := parseCronTicks(crontab, c.loc)
	return err
}

func (c crontabCheck) Next(time.Time) time.Time { return time.Time{} }

// tickCron adapts ticks to gocron's Cron, so that gocron fires exactly at
// the ticks computed here (see Periodic.Start).
type tickCron struct{ tk ticks }

func (c tickCron) IsValid(string, *time.Location, time.Time) error { return nil }

// Next returns the next tick in UTC. gocron skips a next run whose wall
// clock reads the same as the last one's (its own guard against running a
// fixed time twice in the repeated hour of a fall-back); in the zone, a
// wildcard schedule's two ticks of that hour read the same, and the second
// would be skipped. Two UTC instants never read the same.
func (c tickCron) Next(last time.Time) time.Time { return c.tk.next(last).UTC() }

// sharedZone refuses time.Local as a schedule's zone. Every instance must
// compute the same ticks (see Periodic), and Local is whatever zone each
// host is set to (TZ, /etc/localtime): two hosts in different zones would
// fire "09:00" at different instants, under different reminder IDs, and
// store the reminder twice.
func sharedZone(loc *time.Location) error {
	if loc == time.Local {
		return errors.New(`time zone "Local" is each host's own; name the zone, e.g. "Europe/Berlin"`)
	}
	return nil
}

// gocronLogger hands gocron's records to the Periodic's logger. gocron
// logs its routine start and stop at INFO ("gocron: new scheduler
// created"), which is the library's inner workings, not the application's
// news: those go out at DEBUG. Its warnings and errors keep their level.
// Once its gate is silenced (the run's Shutdown is over), it drops them:
// gocron's goroutines may still be winding down, and the application may
// have closed its log sink.
type gocronLogger struct {
	l    *slog.Logger
	gate *logGate
}

var _ gocron.Logger = gocronLogger{}

func (g gocronLogger) log(level slog.Level, msg string, args ...any) {
	// The read lock is held across the call, so that silence waits for a
	// record on its way: none reaches the logger after it returns.
	g.gate.mu.RLock()
	defer g.gate.mu.RUnlock()
	if !g.gate.quiet {
		g.l.Log(context.Background(), level, msg, args...)
	}
}

// logGate lets gocron's records through until silenced.
type logGate struct {
	mu    sync.RWMutex
	quiet bool
}

// silence stops the records, once those on their way are written.
func (g *logGate) silence() {
	g.mu.Lock()
	g.quiet = true
	g.mu.Unlock()
}

func (g gocronLogger) Debug(msg string, args ...any) { g.log(slog.LevelDebug, msg, args...) }
func (g gocronLogger) Info(msg string, args ...any)  { g.log(slog.LevelDebug, msg, args...) }
func (g gocronLogger) Warn(msg string, args ...any)  { g.log(slog.LevelWarn, msg, args...) }
func (g gocronLogger) Error(msg string, args ...any) { g.log(slog.LevelError, msg, args...) }

// firingGate counts the firings in progress (see fire) so that Shutdown
// waits for them itself, within its own ctx: gocron gives up waiting for
// its jobs after its stop timeout (busy-waiting until then), while a
// firing that has won its tick's claim must store it until Shutdown's ctx
// ends. Once closed, it lets no firing in.
type firingGate struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // closed when n drops to 0 after close
}

// enter counts a firing in; false once the gate is closed.
func (g *firingGate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

func (g *firingGate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n--; g.n == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
}

// closeAndWait closes the gate and waits until no firing is in.
func (g *firingGate) closeAndWait() {
	g.mu.Lock()
	g.closed = true
	if g.n == 0 {
		g.mu.Unlock()
		return
	}
	idle := make(chan struct{})
	g.idle = idle
	g.mu.Unlock()
	<-idle
}
