package metrics_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/metrics"
	"github.com/sytefy/kit/reminders"
)

// statsFunc adapts a function to a metrics.StatsSource.
type statsFunc func(ctx context.Context) (reminders.Stats, error)

func (f statsFunc) Stats(ctx context.Context) (reminders.Stats, error) { return f(ctx) }

func fixedStats(st reminders.Stats, err error) statsFunc {
	return func(context.Context) (reminders.Stats, error) { return st, err }
}

const statsHeader = `
# HELP kit_reminders_stats_errors_total Scrapes whose read of the reminder counts failed or timed out.
# TYPE kit_reminders_stats_errors_total counter
# HELP kit_reminders_stats_up 1 if this scrape read the reminder counts, 0 if the read failed or timed out.
# TYPE kit_reminders_stats_up gauge
`

var statsNames = []string{
	"kit_reminders_pending", "kit_reminders_in_flight", "kit_reminders_dead",
	"kit_reminders_stats_up", "kit_reminders_stats_errors_total",
}

func TestReminderStatsReportsEachShard(t *testing.T) {
	c, err := metrics.NewReminderStats(fixedStats(reminders.Stats{
		Pending: 7, InFlight: 2, Dead: 1,
		Shards: []reminders.ShardStats{
			{Shard: 0, Pending: 3, InFlight: 2, Dead: 0},
			{Shard: 1, Pending: 4, InFlight: 0, Dead: 1},
		},
	}, nil))
	require.NoError(t, err)

	want := `
# HELP kit_reminders_pending Reminders stored and not yet claimed, due or not.
# TYPE kit_reminders_pending gauge
kit_reminders_pending{shard="0"} 3
kit_reminders_pending{shard="1"} 4
# HELP kit_reminders_in_flight Reminders claimed by a worker and not yet settled or taken back.
# TYPE kit_reminders_in_flight gauge
kit_reminders_in_flight{shard="0"} 2
kit_reminders_in_flight{shard="1"} 0
# HELP kit_reminders_dead Reminders in the dead-letter set.
# TYPE kit_reminders_dead gauge
kit_reminders_dead{shard="0"} 0
kit_reminders_dead{shard="1"} 1
# HELP kit_reminders_stats_up 1 if this scrape read the reminder counts, 0 if the read failed or timed out.
# TYPE kit_reminders_stats_up gauge
kit_reminders_stats_up 1
# HELP kit_reminders_stats_errors_total Scrapes whose read of the reminder counts failed or timed out.
# TYPE kit_reminders_stats_errors_total counter
kit_reminders_stats_errors_total 0
`
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), statsNames...))
}

func TestReminderStatsWithoutShardsReportsTotals(t *testing.T) {
	c, err := metrics.NewReminderStats(fixedStats(reminders.Stats{Pending: 5, InFlight: 1, Dead: 2}, nil),
		metrics.WithNamespace("app"), metrics.WithConstLabels(prometheus.Labels{"env": "dev"}))
	require.NoError(t, err)
	for name, want := range map[string]float64{"app_reminders_pending": 5, "app_reminders_in_flight": 1, "app_reminders_dead": 2} {
		series := family(t, c, name).GetMetric()
		require.Len(t, series, 1, name)
		assert.Equal(t, want, series[0].GetGauge().GetValue(), name)
		labels := map[string]string{}
		for _, l := range series[0].GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		assert.Equal(t, map[string]string{"env": "dev", "shard": ""}, labels, name)
	}
}

func TestReminderStatsFailureSkipsGauges(t *testing.T) {
	var logs bytes.Buffer
	c, err := metrics.NewReminderStats(fixedStats(reminders.Stats{}, reminders.ErrUnavailable),
		metrics.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)

	testutil.CollectAndCount(c)
	// CollectAndCompare scrapes once more: two scrapes, two errors.
	want := statsHeader + `
kit_reminders_stats_up 0
kit_reminders_stats_errors_total 2
`
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), statsNames...),
		"no gauge series, up 0, one error per scrape")
	assert.Contains(t, logs.String(), "level=WARN")
	assert.Contains(t, logs.String(), reminders.ErrUnavailable.Error())
}

func TestReminderStatsPanickingSourceIsAnError(t *testing.T) {
	c, err := metrics.NewReminderStats(statsFunc(func(context.Context) (reminders.Stats, error) {
		panic("source bug")
	}))
	require.NoError(t, err)
	want := statsHeader + `
kit_reminders_stats_up 0
kit_reminders_stats_errors_total 1
`
	require.NotPanics(t, func() {
		assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), statsNames...))
	})
}

// A source that ignores its context (a client without
// ContextTimeoutEnabled on a dead network) must hold no scrape past the
// timeout, and scrapes that arrive meanwhile must join the stuck read
// rather than start more.
func TestReminderStatsStuckSourceNeitherHangsNorPilesUp(t *testing.T) {
	release := make(chan struct{})
	var calls, ctxEnded atomic.Int32
	src := statsFunc(func(ctx context.Context) (reminders.Stats, error) {
		calls.Add(1)
		<-release // ignores ctx on purpose
		if ctx.Err() != nil {
			ctxEnded.Add(1)
		}
		return reminders.Stats{Pending: 9}, nil
	})
	c, err := metrics.NewReminderStats(src, metrics.WithStatsTimeout(50*time.Millisecond))
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))

	const scrapes = 6
	var wg sync.WaitGroup
	for range scrapes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := reg.Gather()
			assert.NoError(t, err)
		}()
	}
	// The liveness bound is generous: what matters is that Gather returns
	// while the source is still blocked.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("scrapes hung on a stuck StatsSource")
	}
	assert.EqualValues(t, 1, calls.Load(), "scrapes must share the one stuck read")
	// This Gather is one more timed-out scrape.
	errs := single(t, reg, "kit_reminders_stats_errors_total")
	assert.EqualValues(t, scrapes+1, errs)
	assert.EqualValues(t, 1, calls.Load())

	close(release)
	require.Eventually(t, func() bool {
		n, err := testutil.GatherAndCount(reg, "kit_reminders_pending")
		return err == nil && n == 1
	}, 10*time.Second, 5*time.Millisecond, "after the source answers, scrapes read it again")
	assert.EqualValues(t, 1, ctxEnded.Load(), "the stuck read's context had ended")
	before := calls.Load()
	_, err = reg.Gather()
	require.NoError(t, err)
	assert.Equal(t, before+1, calls.Load(), "a read that has ended is not reused")
}

func TestReminderStatsGivesSourceADeadline(t *testing.T) {
	var deadline atomic.Bool
	c, err := metrics.NewReminderStats(statsFunc(func(ctx context.Context) (reminders.Stats, error) {
		_, ok := ctx.Deadline()
		deadline.Store(ok)
		return reminders.Stats{}, nil
	}))
	require.NoError(t, err)
	testutil.CollectAndCount(c)
	assert.True(t, deadline.Load())
}

func TestNewReminderStatsNilSource(t *testing.T) {
	_, err := metrics.NewReminderStats(nil)
	assert.ErrorIs(t, err, metrics.ErrInvalid)
	_, err = metrics.NewReminderStats((*reminders.RedisScheduler)(nil))
	assert.ErrorIs(t, err, metrics.ErrInvalid, "typed nil")
}
