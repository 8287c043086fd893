package reminders

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/robfig/cron/v3"
)

// ticks is the arithmetic of one recurring reminder's schedule: the
// instants it ticks at. Every instance computes the same instants from the
// same definition, whatever its start time, so a tick names the same
// reminder everywhere. gocron fires at next(); a firing is labelled with
// prevTick(now), the latest tick not after it, unless the wall clock was
// stepped back under it (see periodicJob.fireTick).
type ticks interface {
	// next is the first tick strictly after t, or zero if there is none
	// within about four years.
	next(t time.Time) time.Time
	// resolution is what a tick time is truncated to in the reminder ID.
	resolution() time.Duration
}

// prevTick is the latest tick at or before t, or zero if there is none
// within about four years. It searches back from t in doubling windows, so
// it costs O(log(t - tick)) calls of next.
func prevTick(tk ticks, t time.Time) time.Time {
	for w := time.Second; w <= 1<<27*time.Second; w *= 2 { // 2^27 s ≈ 4.25 years
		c := tk.next(t.Add(-w))
		if c.IsZero() || c.After(t) {
			continue
		}
		for {
			n := tk.next(c)
			if n.IsZero() || n.After(t) {
				return c
			}
			c = n
		}
	}
	return time.Time{}
}

// everyTicks ticks at the multiples of a period since the Unix epoch, so
// that instances started at different times agree on them.
type everyTicks struct{ period time.Duration }

func (e everyTicks) next(t time.Time) time.Time {
	n := t.UnixNano()
	p := int64(e.period)
	q := n / p
	if n < 0 && n%p != 0 {
		q-- // floor division for times before 1970
	}
	return time.Unix(0, (q+1)*p).UTC()
}

func (e everyTicks) resolution() time.Duration { return e.period }

// wallTicks ticks at the wall-clock times, in loc, that match any of specs
// (cron expressions, or a daily/weekly job's times written as ones). The
// specs are evaluated on naive wall-clock time (their Location is UTC,
// which has no daylight saving time), and each matching wall time is then
// placed in loc by the daylight-saving policy, Vixie cron's: a fixed time
// by instant's rule, a wildcard schedule (wild) at every instant whose
// wall clock matches (see nextWild).
type wallTicks struct {
	specs []*cron.SpecSchedule
	loc   *time.Location
	res   time.Duration
	wild  bool
}

func (w wallTicks) resolution() time.Duration { return w.res }

func (w wallTicks) next(t time.Time) time.Time {
	if w.wild {
		return w.nextWild(t)
	}
	// Start a little before t's wall time where the UTC offset changes
	// nearby: a wall time up to that change behind t's can be a later
	// instant (the repeated hour of a fall-back).
	wall := naive(t.In(w.loc)).Add(-w.slack(t))
	for {
		wall = w.nextWall(wall)
		if wall.IsZero() {
			return time.Time{}
		}
		// instant never decreases as wall increases, so the first wall
		// time placed after t is the next tick.
		if at := w.instant(wall); at.After(t) {
			return at
		}
	}
}

// nextWild is next for a wildcard schedule, which Vixie cron runs "based
// on the new time immediately" across a daylight-saving change: at every
// instant whose wall clock in loc matches, so a wall time of the repeated
// hour ticks at both its occurrences (an hourly job stays hourly when
// clocks fall back), and one of the skipped hour does not tick.
//
// The occurrences of later wall times are not in order (01:45 daylight
// time comes before 01:30 standard time), so the walk goes on past the
// best found until no later wall time can be placed before it: an instant
// is its wall time less the UTC offset, at most the largest offset near t.
func (w wallTicks) nextWild(t time.Time) time.Time {
	wall := naive(t.In(w.loc)).Add(-w.slack(t))
	limit := wall.Add(1 << 27 * time.Second) // as prevTick: about four years
	maxOff := w.maxOffset(t)
	var best time.Time
	for {
		wall = w.nextWall(wall)
		if wall.IsZero() || wall.After(limit) || (!best.IsZero() && wall.Add(-maxOff).After(best)) {
			return best
		}
		occ, n := w.occurrences(wall)
		for _, at := range occ[:n] {
			if at.After(t) && (best.IsZero() || at.Before(best)) {
				best = at
			}
		}
	}
}

// occurrences are the n instants whose wall clock in loc reads wall, in
// order: none in a skipped hour, two in a repeated one. Every offset that
// can apply to a wall time near a change is one of the zone's offsets 3h
// before, at and 3h after it (zoneOffsets). No allocation: next calls it
// for every wall time it walks.
func (w wallTicks) occurrences(wall time.Time) (out [3]time.Time, n int) {
	for _, off := range w.zoneOffsets(wall) {
		at := time.Unix(wall.Unix()-int64(off), 0).In(w.loc)
		if _, o := at.Zone(); o != off || slices.ContainsFunc(out[:n], at.Equal) {
			continue
		}
		i := n // insertion, to keep them in order
		for ; i > 0 && at.Before(out[i-1]); i-- {
			out[i] = out[i-1]
		}
		out[i] = at
		n++
	}
	return out, n
}

// zoneOffsets are loc's UTC offsets, in seconds, 3h before, at and 3h
// after the wall time read in loc.
func (w wallTicks) zoneOffsets(wall time.Time) [3]int {
	guess := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), 0, w.loc)
	var offs [3]int
	for i, d := range [3]time.Duration{-3 * time.Hour, 0, 3 * time.Hour} {
		_, offs[i] = guess.Add(d).Zone()
	}
	return offs
}

// maxOffset is the largest UTC offset of loc within a day of t.
func (w wallTicks) maxOffset(t time.Time) time.Duration {
	high := -1 << 30
	for _, d := range []time.Duration{-26 * time.Hour, -3 * time.Hour, 0, 3 * time.Hour, 26 * time.Hour} {
		_, o := t.Add(d).In(w.loc).Zone()
		high = max(high, o)
	}
	return time.Duration(high) * time.Second
}

// nextWall is the first naive wall time after wall that matches a spec.
func (w wallTicks) nextWall(wall time.Time) time.Time {
	var best time.Time
	for _, s := range w.specs {
		if n := s.Next(wall); !n.IsZero() && (best.IsZero() || n.Before(best)) {
			best = n
		}
	}
	return best
}

// slack is how far behind t's wall time a later instant's wall time can
// be: the largest drop of the UTC offset within a day of t (0 in a zone
// without daylight saving time).
func (w wallTicks) slack(t time.Time) time.Duration {
	_, off := t.In(w.loc).Zone()
	low := off
	for _, d := range []time.Duration{-26 * time.Hour, -3 * time.Hour, 3 * time.Hour, 26 * time.Hour} {
		if _, o := t.Add(d).In(w.loc).Zone(); o < low {
			low = o
		}
	}
	return time.Duration(off-low) * time.Second
}

// instant places a naive wall time in loc, for a schedule at particular
// times of day. This is Vixie cron's daylight-saving policy for those:
//
//   - a wall time that occurs once is that instant;
//   - a wall time that occurs twice (the repeated hour when clocks fall
//     back) is its first occurrence only, so a 01:30 job runs once;
//   - a wall time that does not occur (the hour skipped when clocks spring
//     forward) runs when the gap ends, so a 02:30 job runs at 03:00 that
//     day instead of not at all. Several skipped wall times share that
//     instant, and so are one tick.
func (w wallTicks) instant(wall time.Time) time.Time {
	if occ, n := w.occurrences(wall); n > 0 {
		return occ[0]
	}
	// Skipped: read with the offset from before the change, the wall time
	// lands after the change; the zone period it lands in began when the
	// gap ended.
	offs := w.zoneOffsets(wall)
	lowest := min(offs[0], offs[1], offs[2])
	start, _ := time.Unix(wall.Unix()-int64(lowest), 0).In(w.loc).ZoneBounds()
	return start.In(w.loc)
}

// naive is t's wall clock written as a UTC time: the clock face, without
// its offset.
func naive(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// cronParser accepts 5 fields (minute resolution), 6 (seconds first) and
// descriptors such as @daily, as gocron.CronJob does.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parseCronTicks reads a crontab as gocron.CronJob takes it, with an
// optional "TZ=" or "CRON_TZ=" prefix; without one, the zone is loc.
func parseCronTicks(crontab string, loc *time.Location) (wallTicks, error) {
	spec := strings.TrimSpace(crontab)
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		// gocron's parser (robfig/cron) wants one space after the zone;
		// checked here, so that it never sees a crontab it would panic on.
		i := strings.IndexByte(spec, ' ')
		if i < 0 {
			return wallTicks{}, fmt.Errorf("crontab %q: a time zone and no schedule (want \"CRON_TZ=<zone> <schedule>\")", crontab)
		}
		name := spec[strings.IndexByte(spec, '=')+1 : i]
		if name == "" || strings.ContainsAny(name, "\t\n\r\v\f") {
			return wallTicks{}, fmt.Errorf("crontab %q: empty or malformed time zone (want \"CRON_TZ=<zone> <schedule>\")", crontab)
		}
		z, err := time.LoadLocation(name)
		if err != nil {
			return wallTicks{}, fmt.Errorf("crontab %q: %w", crontab, err)
		}
		if err := sharedZone(z); err != nil {
			return wallTicks{}, fmt.Errorf("crontab %q: %w", crontab, err)
		}
		loc, spec = z, strings.TrimSpace(spec[i:])
	}
	if strings.HasPrefix(spec, "@every") {
		return wallTicks{}, fmt.Errorf("crontab %q: use gocron.DurationJob for a fixed period", crontab)
	}
	s, err := cronParser.Parse(spec)
	if err != nil {
		return wallTicks{}, fmt.Errorf("crontab %q: %w", crontab, err)
	}
	ss, ok := s.(*cron.SpecSchedule)
	if !ok {
		return wallTicks{}, fmt.Errorf("crontab %q is not a calendar schedule", crontab)
	}
	utc := *ss
	utc.Location = time.UTC
	res := time.Minute
	if !strings.HasPrefix(spec, "@") && len(strings.Fields(spec)) == 6 {
		res = time.Second
	}
	return wallTicks{specs: []*cron.SpecSchedule{&utc}, loc: loc, res: res, wild: wildcard(spec)}, nil
}

// wildcard reports whether a crontab is a wildcard schedule in Vixie
// cron's sense (cron(8), on daylight-saving changes): @hourly, or a '*' in
// the hour or minute field (or, in a 6-field crontab, the seconds field);
// '?', which the parser reads as '*', counts as one. Other schedules run at
// particular times of day.
func wildcard(spec string) bool {
	if strings.HasPrefix(spec, "@") {
		return spec == "@hourly"
	}
	f := strings.Fields(spec)
	n := 2 // minute, hour
	if len(f) == 6 {
		n = 3 // seconds first
	}
	for _, field := range f[:min(n, len(f))] {
		if strings.ContainsAny(field, "*?") {
			return true
		}
	}
	return false
}

// atTimesTicks is a daily (no weekdays) or weekly job's times of day,
// written as one second-resolution cron spec per time.
func atTimesTicks(atTimes []time.Time, weekdays []time.Weekday, loc *time.Location) (wallTicks, error) {
	dow := "*"
	if len(weekdays) > 0 {
		days := make([]string, len(weekdays))
		for i, d := range weekdays {
			days[i] = fmt.Sprint(int(d))
		}
		dow = strings.Join(days, ",")
	}
	w := wallTicks{loc: loc, res: time.Second}
	for _, at := range atTimes {
		s, err := cronParser.Parse(fmt.Sprintf("%d %d %d * * %s", at.Second(), at.Minute(), at.Hour(), dow))
		if err != nil {
			return wallTicks{}, err
		}
		ss := s.(*cron.SpecSchedule)
		ss.Location = time.UTC
		w.specs = append(w.specs, ss)
	}
	if len(w.specs) == 0 {
		return wallTicks{}, fmt.Errorf("no times of day")
	}
	return w, nil
}

// ticksOf turns gocron's description of a job definition into its tick
// arithmetic. Only schedules that every instance computes alike are
// accepted: a day or week interval other than 1, a random duration or a
// monthly job would depend on when each instance started (or is better
// written as a crontab).
func ticksOf(s gocron.JobSchedule, loc *time.Location) (ticks, error) {
	switch s := s.(type) {
	case gocron.CronJobSchedule:
		return parseCronTicks(s.Crontab, loc)
	case gocron.DurationJobSchedule:
		if s.Duration < time.Second || s.Duration%time.Second != 0 {
			return nil, fmt.Errorf("DurationJob %s: want a whole number of seconds, at least 1s", s.Duration)
		}
		return everyTicks{period: s.Duration}, nil
	case gocron.DailyJobSchedule:
		if s.Interval != 1 {
			return nil, fmt.Errorf("DailyJob interval %d: want 1 (use a crontab)", s.Interval)
		}
		return atTimesTicks(s.AtTimes, nil, loc)
	case gocron.WeeklyJobSchedule:
		if s.Interval != 1 {
			return nil, fmt.Errorf("WeeklyJob interval %d: want 1 (use a crontab)", s.Interval)
		}
		if len(s.DaysOfWeek) == 0 {
			return nil, fmt.Errorf("WeeklyJob without days")
		}
		return atTimesTicks(s.AtTimes, s.DaysOfWeek, loc)
	default:
		return nil, fmt.Errorf("job type %T is not supported: use CronJob, DurationJob, DailyJob or WeeklyJob", s)
	}
}

// tickID is the reminder ID of a tick: "<name>@<tick in UTC, RFC 3339,
// truncated to the resolution>", e.g. "digest@2025-03-09T07:30:00Z". The
// suffix holds no '@', so the ID is unique per (name, tick) even when the
// name holds '@'.
func tickID(name string, tick time.Time, res time.Duration) string {
	layout := "2006-01-02T15:04:05Z"
	if res%time.Minute == 0 {
		layout = "2006-01-02T15:04Z"
	}
	// Truncate counts from the Unix epoch, as everyTicks does (time.Time's
	// Truncate counts from year 1, which differs for periods such as 7s).
	n := tick.UnixNano()
	n -= ((n % int64(res)) + int64(res)) % int64(res)
	return name + "@" + time.Unix(0, n).UTC().Format(layout)
}
