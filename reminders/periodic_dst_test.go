package reminders_test

import (
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/reminders"
)

// The daylight-saving policy, end to end through gocron and a fake clock:
// each job's reminders over three days around a transition. In New York
// (2025) clocks spring forward on 9 March at 02:00 EST and fall back on
// 2 November at 02:00 EDT; Istanbul keeps UTC+3 all year.
func TestPeriodicDaylightSaving(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	ist, err := time.LoadLocation("Europe/Istanbul")
	require.NoError(t, err)
	tests := []struct {
		name  string
		loc   *time.Location
		def   gocron.JobDefinition
		start time.Time
		want  []string      // tick times, in the zone; each one reminder
		idFmt string        // the ID's time layout: the schedule's resolution
		quiet time.Duration // nothing after the last tick for this long (default 22h)
	}{
		{
			// 02:30 does not exist on 9 March: it runs when the gap ends.
			name: "NewYorkSpringForward0230", loc: ny,
			def:   gocron.CronJob("30 2 * * *", false),
			start: time.Date(2025, 3, 7, 12, 0, 0, 0, ny),
			want:  []string{"2025-03-08 02:30 EST", "2025-03-09 03:00 EDT", "2025-03-10 02:30 EDT"},
		},
		{
			// 01:30 happens twice on 2 November: it runs at the first.
			name: "NewYorkFallBack0130", loc: ny,
			def:   gocron.CronJob("30 1 * * *", false),
			start: time.Date(2025, 10, 31, 12, 0, 0, 0, ny),
			want:  []string{"2025-11-01 01:30 EDT", "2025-11-02 01:30 EDT", "2025-11-03 01:30 EST"},
		},
		{
			// A DailyJob follows the same policy.
			name: "NewYorkSpringForwardDailyJob", loc: ny,
			def:   gocron.DailyJob(1, gocron.NewAtTimes(gocron.NewAtTime(2, 30, 0))),
			start: time.Date(2025, 3, 7, 12, 0, 0, 0, ny),
			want:  []string{"2025-03-08 02:30 EST", "2025-03-09 03:00 EDT", "2025-03-10 02:30 EDT"},
			idFmt: "2006-01-02T15:04:05Z",
		},
		{
			// A wildcard schedule (Vixie cron: '*' in the hour or minute)
			// runs by the wall clock as it reads: the repeated hour's 01:00
			// ticks twice, so an hourly job stays hourly.
			name: "NewYorkFallBackHourly", loc: ny,
			def:   gocron.CronJob("0 * * * *", false),
			start: time.Date(2025, 11, 2, 0, 30, 0, 0, ny),
			want:  []string{"2025-11-02 01:00 EDT", "2025-11-02 01:00 EST", "2025-11-02 02:00 EST"},
			quiet: 59 * time.Minute,
		},
		{
			// Both occurrences of each wall time in the repeated hour, in
			// the order they happen.
			name: "NewYorkFallBackEvery30Min", loc: ny,
			def:   gocron.CronJob("*/30 1 * * *", false),
			start: time.Date(2025, 11, 2, 0, 45, 0, 0, ny),
			want: []string{"2025-11-02 01:00 EDT", "2025-11-02 01:30 EDT", "2025-11-02 01:00 EST",
				"2025-11-02 01:30 EST", "2025-11-03 01:00 EST"},
			quiet: 29 * time.Minute,
		},
		{
			// The skipped hour's 02:30 does not tick for a wildcard
			// schedule; the next one does.
			name: "NewYorkSpringForwardHourly", loc: ny,
			def:   gocron.CronJob("30 * * * *", false),
			start: time.Date(2025, 3, 9, 1, 0, 0, 0, ny),
			want:  []string{"2025-03-09 01:30 EST", "2025-03-09 03:30 EDT", "2025-03-09 04:30 EDT"},
			quiet: 59 * time.Minute,
		},
		{
			name: "IstanbulSpringDates0230", loc: ist,
			def:   gocron.CronJob("30 2 * * *", false),
			start: time.Date(2025, 3, 7, 12, 0, 0, 0, ist),
			want:  []string{"2025-03-08 02:30 +03", "2025-03-09 02:30 +03", "2025-03-10 02:30 +03"},
		},
		{
			name: "IstanbulFallDates0130", loc: ist,
			def:   gocron.CronJob("30 1 * * *", false),
			start: time.Date(2025, 10, 31, 12, 0, 0, 0, ist),
			want:  []string{"2025-11-01 01:30 +03", "2025-11-02 01:30 +03", "2025-11-03 01:30 +03"},
		},
	}
	const layout = "2006-01-02 15:04 MST"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.idFmt == "" {
				tc.idFmt = "2006-01-02T15:04Z"
			}
			h := newTickHarness(t, tc.start)
			p := h.periodic(t, reminders.WithTimeZone(tc.loc))
			var ticks []time.Time
			require.NoError(t, p.Register("job", tc.def, func(tick time.Time) reminders.Reminder {
				ticks = append(ticks, tick) // on gocron's goroutine; read after the delivery
				return reminders.Reminder{Kind: "k"}
			}))
			require.NoError(t, p.Start(ctxT(t)))
			for i, w := range tc.want {
				at, err := time.ParseInLocation(layout, w, tc.loc)
				require.NoError(t, err)
				// Not a second early, then exactly one reminder at the tick.
				h.advanceTo(t, 1, at.Add(-time.Second))
				h.none(t, 1)
				h.advanceTo(t, 1, at)
				d := h.next(t)
				require.Len(t, ticks, i+1)
				assert.Equal(t, w, ticks[i].Format(layout), "tick handed to build")
				assert.True(t, at.Equal(d.DueAt), "DueAt %s, want %s", d.DueAt, at)
				assert.Equal(t, "job@"+at.UTC().Format(tc.idFmt), d.ID)
			}
			// Nothing else until the day after the last tick.
			last, err := time.ParseInLocation(layout, tc.want[len(tc.want)-1], tc.loc)
			require.NoError(t, err)
			if tc.quiet == 0 {
				tc.quiet = 22 * time.Hour
			}
			h.advanceTo(t, 1, last.Add(tc.quiet))
			h.none(t, 1)
		})
	}
}
