package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/metrics"
	"github.com/sytefy/kit/reminders"
)

var _ metrics.StatsSource = (*reminders.RedisScheduler)(nil)

// A known workload on the Redis scheduler with four shards and a running
// worker, scraped while it is in a known state: 10 pending, 2 in flight,
// 3 dead, 4 done. Counters and gauges are exact.
func TestRedisWorkloadCountersAndShardGauges(t *testing.T) {
	r := redistest.New(t)
	const shards = 4
	m, err := metrics.NewReminders()
	require.NoError(t, err)
	sched, err := reminders.NewRedisScheduler(r.Client, reminders.WithKeyPrefix(r.Prefix),
		reminders.WithShards(shards), reminders.WithMaxRetries(0), reminders.WithObserver(m))
	require.NoError(t, err)
	stats, err := metrics.NewReminderStats(sched, metrics.WithStatsTimeout(5*time.Second))
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m))
	require.NoError(t, reg.Register(stats))

	release := make(chan struct{})
	mux := reminders.NewMux()
	mux.HandleFunc("ok", func(context.Context, reminders.Delivery) error { return nil })
	mux.HandleFunc("fail", func(context.Context, reminders.Delivery) error { return errors.New("no") })
	mux.HandleFunc("block", func(ctx context.Context, _ reminders.Delivery) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})

	ctx := context.Background()
	now := time.Now()
	var batch []reminders.Reminder
	add := func(kind string, n int, due time.Time) {
		for i := range n {
			batch = append(batch, reminders.Reminder{ID: fmt.Sprintf("%s-%d", kind, i), Kind: kind, DueAt: due})
		}
	}
	add("later", 10, now.Add(time.Hour))
	add("ok", 4, now)
	add("fail", 3, now)
	add("block", 2, now)
	require.NoError(t, sched.ScheduleMany(ctx, batch))

	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- sched.Run(runCtx, mux) }()
	t.Cleanup(func() {
		close(release)
		stop()
		assert.NoError(t, <-ran)
	})

	require.Eventually(t, func() bool {
		st, err := sched.Stats(ctx)
		return err == nil && st.InFlight == 2 && st.Dead == 3 &&
			polledCounter(t, m, "kit_reminders_succeeded_total", "ok") == 4 &&
			// EventDead is observed after the settle script returns, so
			// Stats can see the dead set before the counter moves, or
			// before its series exists.
			polledCounter(t, m, "kit_reminders_dead_lettered_total", "fail") == 3
	}, 15*time.Second, 10*time.Millisecond, "workload did not settle")

	want := map[string]map[string]float64{
		"kit_reminders_scheduled_total":     {"later": 10, "ok": 4, "fail": 3, "block": 2},
		"kit_reminders_delivered_total":     {"ok": 4, "fail": 3, "block": 2},
		"kit_reminders_succeeded_total":     {"ok": 4},
		"kit_reminders_failed_total":        {"fail": 3},
		"kit_reminders_dead_lettered_total": {"fail": 3},
	}
	for name, byKind := range want {
		got := map[string]float64{}
		for _, s := range gatherFamily(t, reg, name).GetMetric() {
			got[label(s, "kind")] = s.GetCounter().GetValue()
		}
		assert.Equal(t, byKind, got, name)
	}
	assert.EqualValues(t, 9, histogram(t, m, "kit_reminders_lateness_seconds", "").GetSampleCount())
	assert.EqualValues(t, 4, histogram(t, m, "kit_reminders_handler_duration_seconds", "ok").GetSampleCount())

	// Per-shard gauges: one series per shard, summing to the workload, and
	// each equal to what Stats reports for its shard.
	st, err := sched.Stats(ctx)
	require.NoError(t, err)
	require.Len(t, st.Shards, shards)
	for name, total := range map[string]float64{
		"kit_reminders_pending": 10, "kit_reminders_in_flight": 2, "kit_reminders_dead": 3,
	} {
		series := gatherFamily(t, reg, name).GetMetric()
		require.Len(t, series, shards, name)
		sum := 0.0
		for _, s := range series {
			shard, err := strconv.Atoi(label(s, "shard"))
			require.NoError(t, err, name)
			require.True(t, shard >= 0 && shard < shards, name)
			v := s.GetGauge().GetValue()
			sum += v
			want := map[string]int64{
				"kit_reminders_pending":   st.Shards[shard].Pending,
				"kit_reminders_in_flight": st.Shards[shard].InFlight,
				"kit_reminders_dead":      st.Shards[shard].Dead,
			}[name]
			assert.EqualValues(t, want, v, "%s{shard=%d}", name, shard)
		}
		assert.Equal(t, total, sum, name)
	}
	assert.EqualValues(t, 1, single(t, reg, "kit_reminders_stats_up"))
}

// A Redis that stops answering (SIGSTOP) costs one scrape its gauges, not
// the scrape itself, even on a client whose context does not bound its
// calls; when Redis answers again, so do the gauges.
func TestRedisPausedServerDoesNotHangTheScrape(t *testing.T) {
	srv := redistest.StartServer(t)
	// No ContextTimeoutEnabled: go-redis waits out its ReadTimeout (3s)
	// whatever the context says, so only the collector's own bound holds.
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = client.Close() })
	sched, err := reminders.NewRedisScheduler(client, reminders.WithShards(2))
	require.NoError(t, err)
	require.NoError(t, sched.Schedule(context.Background(),
		reminders.Reminder{ID: "a", Kind: "k", DueAt: time.Now().Add(time.Hour)}))
	stats, err := metrics.NewReminderStats(sched, metrics.WithStatsTimeout(200*time.Millisecond))
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(stats))

	up := func() float64 { return single(t, reg, "kit_reminders_stats_up") }
	pendingSeries := func() int {
		families, err := reg.Gather()
		require.NoError(t, err)
		for _, f := range families {
			if f.GetName() == "kit_reminders_pending" {
				return len(f.GetMetric())
			}
		}
		return 0
	}
	require.EqualValues(t, 1, up())
	require.Equal(t, 2, pendingSeries())

	srv.Pause()
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			srv.Resume()
		}
	})
	scraped := make(chan struct{})
	go func() {
		defer close(scraped)
		assert.EqualValues(t, 0, up())
		assert.Equal(t, 0, pendingSeries(), "no stale gauges while Redis is away")
	}()
	select {
	case <-scraped:
	case <-time.After(10 * time.Second):
		t.Fatal("scrape hung on a paused Redis")
	}
	// Two scrapes above and this one: each failed on its own.
	errs := single(t, reg, "kit_reminders_stats_errors_total")
	assert.EqualValues(t, 3, errs)

	srv.Resume()
	resumed = true
	require.Eventually(t, func() bool { return up() == 1 }, 15*time.Second, 20*time.Millisecond)
	assert.Equal(t, 2, pendingSeries())
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
