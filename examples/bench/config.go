package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// config is every knob of a run. The JSON line repeats every flag's
// effective value (Flags), so a figure is never separated from the sizes
// that produced it.
type config struct {
	Flags map[string]string

	RedisURL   string
	KitDB      int
	AsynqDB    int
	FlushFirst bool
	Pool       int

	Concurrency  []int
	CellDuration time.Duration
	Rounds       int
	SessionUsers int
	RevokeUsers  int

	Reminders      int
	ScheduleConc   int
	Batch          int
	Handlers       int
	Rate           int
	SteadyDuration time.Duration
	MinOffset      time.Duration
	MaxOffset      time.Duration
	LateGrace      time.Duration

	PhaseTimeout time.Duration
	Timeout      time.Duration
	SlowlogBelow time.Duration
	SlowlogLen   int

	Quick        bool
	SkipSessions bool
	SkipAsynq    bool
	SkipRems     bool
	CPUProfile   string
}

// quickPreset is what -quick changes: a smoke run of well under a minute.
// Flags given explicitly win over it.
var quickPreset = map[string]string{
	"cell":          "400ms",
	"rounds":        "2",
	"session-users": "1000",
	"revoke-users":  "200",
	"reminders":     "5000",
	"steady":        "2s",
	"late-grace":    "7s",
	"phase-timeout": "20s",
}

// intList is a flag of comma-separated positive integers.
type intList []int

func (l *intList) String() string {
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	var out intList
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 4096 {
			return fmt.Errorf("%q is not a concurrency in 1..4096", f)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

// parseConfig reads the flags of args (without the program name).
func parseConfig(args []string) (config, error) {
	c := config{Concurrency: []int{1, 16, 64}}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&c.RedisURL, "redis", "redis://127.0.0.1:6379", "Redis `URL`; its database number is ignored (see -kit-db, -asynq-db)")
	fs.IntVar(&c.KitDB, "kit-db", 14, "database for kit's keys; must be empty (or see -flush-first), and is flushed at the end")
	fs.IntVar(&c.AsynqDB, "asynq-db", 15, "database for asynq's keys (asynq's prefix is fixed); same rules as -kit-db")
	fs.BoolVar(&c.FlushFirst, "flush-first", false, "flush -kit-db and -asynq-db even if they hold keys (only if they are yours)")
	fs.IntVar(&c.Pool, "pool", 128, "go-redis connection pool size of each client")
	fs.Var((*intList)(&c.Concurrency), "conc", "session operation concurrencies, comma-separated")
	fs.DurationVar(&c.CellDuration, "cell", 4*time.Second, "how long each session (operation, concurrency) cell runs in all")
	fs.IntVar(&c.Rounds, "rounds", 16, "rounds each session cell is split into; the operations of one concurrency take turns, round by round")
	fs.IntVar(&c.SessionUsers, "session-users", 10000, "users with one session each, read by IsActive (and as many raw keys, read by GET)")
	fs.IntVar(&c.RevokeUsers, "revoke-users", 8000, "users with 20 sessions each that RevokeAllForUser revokes, per concurrency, prepared a round's share at a time (a round ends early when its share runs out)")
	fs.IntVar(&c.Reminders, "reminders", 100000, "reminders scheduled (one per call), measured for memory, and drained")
	fs.IntVar(&c.ScheduleConc, "schedule-conc", 16, "concurrent schedulers")
	fs.IntVar(&c.Batch, "batch", 500, "ScheduleMany batch size")
	fs.IntVar(&c.Handlers, "handlers", 64, "handler goroutines of the workers (kit WithConcurrency, asynq Concurrency)")
	fs.IntVar(&c.Rate, "rate", 1000, "reminders scheduled per second in the lateness phase")
	fs.DurationVar(&c.SteadyDuration, "steady", 10*time.Second, "how long the lateness phase schedules")
	fs.DurationVar(&c.MinOffset, "min-offset", 10*time.Millisecond, "shortest time from scheduling to due in the lateness phase")
	fs.DurationVar(&c.MaxOffset, "max-offset", time.Second, "longest time from scheduling to due in the lateness phase (exclusive)")
	fs.DurationVar(&c.LateGrace, "late-grace", 10*time.Second, "how long after the last due time the lateness phase waits for deliveries")
	fs.DurationVar(&c.PhaseTimeout, "phase-timeout", time.Minute, "limit of each counted phase (preparing, scheduling, draining)")
	fs.DurationVar(&c.Timeout, "timeout", 15*time.Minute, "limit of the whole run")
	fs.DurationVar(&c.SlowlogBelow, "slowlog-threshold", 100*time.Microsecond, "SLOWLOG threshold during each drain (restored after)")
	fs.IntVar(&c.SlowlogLen, "slowlog-len", 4096, "SLOWLOG length during each drain (restored after)")
	fs.BoolVar(&c.Quick, "quick", false, "smoke-run sizes: "+presetText())
	fs.BoolVar(&c.SkipSessions, "skip-sessions", false, "skip the sessions part")
	fs.BoolVar(&c.SkipAsynq, "skip-asynq", false, "skip asynq (no ratios); its database is not touched")
	fs.BoolVar(&c.SkipRems, "skip-reminders", false, "skip the reminders part (kit and asynq)")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of this process to `file`")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.Quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range quickPreset {
			if !set[name] {
				if err := fs.Set(name, v); err != nil {
					return c, err
				}
			}
		}
	}
	c.Flags = map[string]string{}
	fs.VisitAll(func(f *flag.Flag) { c.Flags[f.Name] = f.Value.String() })
	return c, c.validate()
}

func presetText() string {
	var s []string
	for _, k := range []string{"cell", "rounds", "session-users", "revoke-users", "reminders", "steady", "late-grace", "phase-timeout"} {
		s = append(s, "-"+k+"="+quickPreset[k])
	}
	return strings.Join(s, " ")
}

func (c config) validate() error {
	var errs []error
	positive := func(name string, v int) {
		if v < 1 {
			errs = append(errs, fmt.Errorf("-%s is %d, want at least 1", name, v))
		}
	}
	positive("pool", c.Pool)
	positive("rounds", c.Rounds)
	positive("session-users", c.SessionUsers)
	positive("revoke-users", c.RevokeUsers)
	positive("reminders", c.Reminders)
	positive("schedule-conc", c.ScheduleConc)
	positive("batch", c.Batch)
	positive("handlers", c.Handlers)
	positive("slowlog-len", c.SlowlogLen)
	if c.Rate < 1 || c.Rate > 100000 {
		errs = append(errs, fmt.Errorf("-rate is %d, want 1..100000", c.Rate))
	}
	for name, d := range map[string]time.Duration{"cell": c.CellDuration, "steady": c.SteadyDuration,
		"phase-timeout": c.PhaseTimeout, "timeout": c.Timeout, "max-offset": c.MaxOffset} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("-%s is %s, want more than 0", name, d))
		}
	}
	if c.MinOffset < 0 || c.MinOffset >= c.MaxOffset {
		errs = append(errs, fmt.Errorf("-min-offset %s must be in [0, -max-offset %s)", c.MinOffset, c.MaxOffset))
	}
	if c.LateGrace < 0 || c.SlowlogBelow < 0 {
		errs = append(errs, errors.New("-late-grace and -slowlog-threshold must not be negative"))
	}
	if !c.SkipAsynq && c.KitDB == c.AsynqDB {
		errs = append(errs, fmt.Errorf("-kit-db and -asynq-db are both %d; the systems need a database each", c.KitDB))
	}
	return errors.Join(errs...)
}
