package reminders

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func mustCron(t *testing.T, crontab string, loc *time.Location) wallTicks {
	t.Helper()
	w, err := parseCronTicks(crontab, loc)
	require.NoError(t, err)
	return w
}

// ticksFrom lists the ticks after from, up to and including to.
func ticksFrom(tk ticks, from, to time.Time) []string {
	var out []string
	for t := tk.next(from); !t.IsZero() && !t.After(to); t = tk.next(t) {
		out = append(out, t.Format("2006-01-02 15:04:05 MST"))
	}
	return out
}

// The daylight-saving policy, America/New_York, 2025: clocks spring
// forward on 9 March at 02:00 EST (to 03:00 EDT) and fall back on
// 2 November at 02:00 EDT (to 01:00 EST).
func TestWallTicksDaylightSaving(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	ist := mustZone(t, "Europe/Istanbul") // UTC+3 all year
	tests := []struct {
		name, crontab string
		loc           *time.Location
		from, to      time.Time
		want          []string
	}{
		{
			name: "SpringForwardSkippedTimeRunsWhenGapEnds", crontab: "30 2 * * *", loc: ny,
			from: time.Date(2025, 3, 7, 12, 0, 0, 0, ny), to: time.Date(2025, 3, 10, 12, 0, 0, 0, ny),
			want: []string{"2025-03-08 02:30:00 EST", "2025-03-09 03:00:00 EDT", "2025-03-10 02:30:00 EDT"},
		},
		{
			name: "FallBackRepeatedTimeRunsOnce", crontab: "30 1 * * *", loc: ny,
			from: time.Date(2025, 10, 31, 12, 0, 0, 0, ny), to: time.Date(2025, 11, 3, 12, 0, 0, 0, ny),
			want: []string{"2025-11-01 01:30:00 EDT", "2025-11-02 01:30:00 EDT", "2025-11-03 01:30:00 EST"},
		},
		{
			name: "CronTZPrefixWins", crontab: "CRON_TZ=America/New_York 30 2 * * *", loc: time.UTC,
			from: time.Date(2025, 3, 8, 12, 0, 0, 0, ny), to: time.Date(2025, 3, 9, 12, 0, 0, 0, ny),
			want: []string{"2025-03-09 03:00:00 EDT"},
		},
		{
			// A wildcard schedule: the skipped minutes do not tick; 03:00,
			// the gap's end, is a minute of its own.
			name: "SpringForwardEveryMinute", crontab: "* * * * *", loc: ny,
			from: time.Date(2025, 3, 9, 1, 57, 30, 0, ny), to: time.Date(2025, 3, 9, 3, 2, 0, 0, ny),
			want: []string{"2025-03-09 01:58:00 EST", "2025-03-09 01:59:00 EST", "2025-03-09 03:00:00 EDT", "2025-03-09 03:01:00 EDT", "2025-03-09 03:02:00 EDT"},
		},
		{
			// A wildcard schedule runs by the wall clock as it reads: the
			// repeated hour's 01:00 ticks twice, so hourly stays hourly.
			name: "FallBackHourly", crontab: "0 * * * *", loc: ny,
			from: time.Date(2025, 11, 2, 0, 0, 0, 0, ny), to: time.Date(2025, 11, 2, 3, 0, 0, 0, ny),
			want: []string{"2025-11-02 01:00:00 EDT", "2025-11-02 01:00:00 EST", "2025-11-02 02:00:00 EST", "2025-11-02 03:00:00 EST"},
		},
		{
			// A skipped wall time does not tick for a wildcard schedule.
			name: "SpringForwardHalfPastHourly", crontab: "30 * * * *", loc: ny,
			from: time.Date(2025, 3, 9, 1, 0, 0, 0, ny), to: time.Date(2025, 3, 9, 4, 0, 0, 0, ny),
			want: []string{"2025-03-09 01:30:00 EST", "2025-03-09 03:30:00 EDT"},
		},
		{
			name: "IstanbulSpringDate", crontab: "30 2 * * *", loc: ist,
			from: time.Date(2025, 3, 8, 12, 0, 0, 0, ist), to: time.Date(2025, 3, 10, 12, 0, 0, 0, ist),
			want: []string{"2025-03-09 02:30:00 +03", "2025-03-10 02:30:00 +03"},
		},
		{
			name: "IstanbulFallDate", crontab: "30 1 * * *", loc: ist,
			from: time.Date(2025, 11, 1, 12, 0, 0, 0, ist), to: time.Date(2025, 11, 3, 12, 0, 0, 0, ist),
			want: []string{"2025-11-02 01:30:00 +03", "2025-11-03 01:30:00 +03"},
		},
		{
			// Europe's own transition days (last Sundays of March and
			// October) change nothing in Istanbul either.
			name: "IstanbulOnEuropeanTransitions", crontab: "30 3 * * *", loc: ist,
			from: time.Date(2025, 3, 29, 12, 0, 0, 0, ist), to: time.Date(2025, 3, 31, 12, 0, 0, 0, ist),
			want: []string{"2025-03-30 03:30:00 +03", "2025-03-31 03:30:00 +03"},
		},
		{
			name: "SecondsField", crontab: "*/20 * * * * *", loc: time.UTC,
			from: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), to: time.Date(2025, 1, 1, 0, 1, 0, 0, time.UTC),
			want: []string{"2025-01-01 00:00:20 UTC", "2025-01-01 00:00:40 UTC", "2025-01-01 00:01:00 UTC"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := mustCron(t, tc.crontab, tc.loc)
			assert.Equal(t, tc.want, ticksFrom(w, tc.from, tc.to))
		})
	}
}

// prevTick and next agree: for any t, prev(t) <= t < next(prev(t)) ==
// next(t), including across both New York transitions.
func TestPrevTickInvertsNext(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	daily, err := atTimesTicks([]time.Time{
		gocron.TimeFromAtTime(gocron.NewAtTime(1, 30, 0), ny), gocron.TimeFromAtTime(gocron.NewAtTime(2, 30, 0), ny),
	}, nil, ny)
	require.NoError(t, err)
	schedules := map[string]ticks{
		"daily 01:30 02:30": daily,
		"every 15 min":      mustCron(t, "*/15 * * * *", ny),
		"hourly":            mustCron(t, "0 * * * *", ny),
		"every 7s":          everyTicks{period: 7 * time.Second},
		"weekdays 09:00":    mustCron(t, "0 9 * * 1-5", ny),
	}
	windows := []time.Time{
		time.Date(2025, 3, 8, 22, 0, 0, 0, ny),
		time.Date(2025, 11, 1, 22, 0, 0, 0, ny),
		time.Date(2025, 6, 15, 0, 0, 0, 0, ny),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for name, tk := range schedules {
		for _, start := range windows {
			for range 150 {
				at := start.Add(time.Duration(rng.Int64N(int64(8 * time.Hour))))
				p := prevTick(tk, at)
				require.False(t, p.IsZero(), "%s: prev(%s)", name, at)
				require.False(t, p.After(at), "%s: prev(%s) = %s is after it", name, at, p)
				n := tk.next(p)
				require.True(t, n.After(at), "%s: a tick %s lies between prev(%s) = %s and it", name, n, at, p)
				require.Equal(t, tk.next(at), n, "%s at %s", name, at)
				require.Equal(t, p, prevTick(tk, p), "%s: a tick is its own prev", name)
			}
		}
	}
}

// Duration ticks are multiples of the period since the Unix epoch: two
// instances started at different times agree.
func TestEveryTicksAligned(t *testing.T) {
	e := everyTicks{period: time.Minute}
	a := time.Date(2025, 5, 1, 10, 0, 13, 0, time.UTC)
	b := time.Date(2025, 5, 1, 10, 0, 59, 999, time.UTC)
	assert.Equal(t, time.Date(2025, 5, 1, 10, 1, 0, 0, time.UTC), e.next(a))
	assert.Equal(t, e.next(a), e.next(b))
	assert.Equal(t, time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC), prevTick(e, b))
	seven := everyTicks{period: 7 * time.Second}
	assert.Zero(t, seven.next(a).Unix()%7)
}

func TestTickID(t *testing.T) {
	tick := time.Date(2025, 3, 9, 3, 0, 0, 0, mustZone(t, "America/New_York"))
	assert.Equal(t, "digest@2025-03-09T07:00Z", tickID("digest", tick, time.Minute))
	assert.Equal(t, "digest@2025-03-09T07:00:00Z", tickID("digest", tick, time.Second))
	// Truncated to the resolution, counted from the epoch.
	assert.Equal(t, "x@2025-03-09T07:00:00Z", tickID("x", tick.Add(400*time.Millisecond), time.Second))
	at := time.Unix(1_700_000_001, 0) // a multiple of 7s
	assert.Equal(t, tickID("x", at, 7*time.Second), tickID("x", at.Add(6*time.Second), 7*time.Second))
	// A name with '@' cannot collide with another name's tick.
	assert.NotEqual(t, tickID("a@2025-03-09T07:00Z", tick, time.Minute), tickID("a", tick, time.Minute))
}

// What gocron accepts but instances would not agree on is refused, with a
// reason; malformed input is an error, never a panic.
func TestTicksOfRejects(t *testing.T) {
	tests := map[string]gocron.JobDefinition{
		"DailyInterval2":  gocron.DailyJob(2, gocron.NewAtTimes(gocron.NewAtTime(9, 0, 0))),
		"WeeklyInterval3": gocron.WeeklyJob(3, gocron.NewWeekdays(time.Monday), gocron.NewAtTimes(gocron.NewAtTime(9, 0, 0))),
		"Monthly":         gocron.MonthlyJob(1, gocron.NewDaysOfTheMonth(1), gocron.NewAtTimes(gocron.NewAtTime(9, 0, 0))),
		"Random":          gocron.DurationRandomJob(time.Second, time.Minute),
		"SubSecond":       gocron.DurationJob(1500 * time.Millisecond),
		"Every":           gocron.CronJob("@every 1m", false),
		"BadCron":         gocron.CronJob("61 * * * *", false),
		"TZWithoutSpec":   gocron.CronJob("CRON_TZ=UTC", false),
		"BadZone":         gocron.CronJob("CRON_TZ=Mars/Olympus 0 9 * * *", false),
		"Nil":             nil,
	}
	for name, def := range tests {
		t.Run(name, func(t *testing.T) {
			js, err := describe(def, time.UTC)
			if err == nil {
				_, err = ticksOf(js, time.UTC)
			}
			assert.Error(t, err)
		})
	}
}

// describe reads each supported definition as gocron does.
func TestTicksOfSupported(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	from := time.Date(2025, 6, 2, 0, 0, 0, 0, ny) // a Monday
	tests := []struct {
		name string
		def  gocron.JobDefinition
		next time.Time
		res  time.Duration
	}{
		{"Cron5", gocron.CronJob("15 9 * * *", false), time.Date(2025, 6, 2, 9, 15, 0, 0, ny), time.Minute},
		{"Cron6", gocron.CronJob("5 15 9 * * *", true), time.Date(2025, 6, 2, 9, 15, 5, 0, ny), time.Second},
		{"Descriptor", gocron.CronJob("@daily", false), time.Date(2025, 6, 3, 0, 0, 0, 0, ny), time.Minute},
		{"Duration", gocron.DurationJob(time.Hour), time.Date(2025, 6, 2, 5, 0, 0, 0, time.UTC), time.Hour},
		{"Daily", gocron.DailyJob(1, gocron.NewAtTimes(gocron.NewAtTime(17, 0, 0), gocron.NewAtTime(8, 30, 0))), time.Date(2025, 6, 2, 8, 30, 0, 0, ny), time.Second},
		{"Weekly", gocron.WeeklyJob(1, gocron.NewWeekdays(time.Wednesday), gocron.NewAtTimes(gocron.NewAtTime(7, 0, 0))), time.Date(2025, 6, 4, 7, 0, 0, 0, ny), time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			js, err := describe(tc.def, ny)
			require.NoError(t, err)
			tk, err := ticksOf(js, ny)
			require.NoError(t, err)
			assert.True(t, tc.next.Equal(tk.next(from)), "next = %s, want %s", tk.next(from), tc.next)
			assert.Equal(t, tc.res, tk.resolution())
		})
	}
}

// A crontab is a wildcard schedule, in Vixie cron's sense, when its minute
// or hour (or seconds) field has a '*', or it is @hourly.
func TestWildcard(t *testing.T) {
	for spec, want := range map[string]bool{
		"0 * * * *":      true,
		"*/15 9 * * *":   true,
		"30 1 * * *":     false,
		"30 1-5 * * *":   false,
		"0 9 * * 1-5":    false,
		"* 30 1 * * *":   true, // every second of 01:30
		"0 30 1 * * *":   false,
		"0 0/30 * * * *": true,
		"0 ? * * *":      true, // '?' is '*' to the parser
		"@hourly":        true,
		"@daily":         false,
		"@weekly":        false,
	} {
		assert.Equal(t, want, wildcard(spec), spec)
	}
}

// A wildcard schedule's next tick is the first instant, by brute force
// over every minute, whose wall clock in the zone matches the crontab:
// across the transitions of zones that shift by an hour, by 30 minutes
// (Lord Howe), and with a negative daylight saving time (Dublin).
func TestWildcardNextMatchesBruteForce(t *testing.T) {
	for _, zone := range []string{"America/New_York", "Australia/Lord_Howe", "Europe/Dublin"} {
		loc := mustZone(t, zone)
		for _, crontab := range []string{"0 * * * *", "*/15 * * * *", "*/20 1-3 * * *"} {
			w := mustCron(t, crontab, loc)
			require.True(t, w.wild, crontab)
			spec, err := cronParser.Parse(crontab)
			require.NoError(t, err)
			matches := func(at time.Time) bool { // the crontab read on at's wall clock
				wall := naive(at.In(loc))
				return spec.Next(wall.Add(-time.Second)).Equal(wall)
			}
			// A day either side of each of 2025's two transitions.
			for _, at := range transitions(t, loc, 2025) {
				for from := at.Add(-26 * time.Hour); from.Before(at.Add(26 * time.Hour)); from = from.Add(11 * time.Minute) {
					want := from.Truncate(time.Minute).Add(time.Minute)
					for !matches(want) {
						want = want.Add(time.Minute)
					}
					require.True(t, want.Equal(w.next(from)), "%s %q: next(%s) = %s, want %s",
						zone, crontab, from, w.next(from), want)
				}
			}
		}
	}
}

// transitions are loc's UTC offset changes in year.
func transitions(t *testing.T, loc *time.Location, year int) []time.Time {
	var out []time.Time
	at := time.Date(year, 1, 1, 0, 0, 0, 0, loc)
	for {
		_, end := at.ZoneBounds()
		if end.IsZero() || end.Year() > year {
			break
		}
		out = append(out, end)
		at = end
	}
	require.NotEmpty(t, out, "no transitions in %s", loc)
	return out
}
