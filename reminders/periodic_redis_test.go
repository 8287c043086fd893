package reminders_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/reminders"
)

// Three instances, each with its own client, Periodic and scheduler, fire
// a one-second job for five seconds against one Redis (real clock). They
// store one reminder per tick, and a worker delivers each once.
func TestPeriodicThreeInstancesOnRedis(t *testing.T) {
	r := redistest.New(t)
	var got deliveries
	worker := newOn(t, r.Client, r.Prefix)
	runWorker(t, worker, reminders.HandlerFunc(func(_ context.Context, d reminders.Delivery) error {
		got.add(d)
		return nil
	}))

	var ps []*reminders.Periodic
	for range 3 {
		// Without WithTickStore, a Periodic on a RedisScheduler keeps its
		// marks in that Redis, under the same prefix.
		p, err := reminders.NewPeriodic(newOn(t, r.NewClient(t), r.Prefix))
		require.NoError(t, err)
		require.NoError(t, p.Register("pulse", gocron.DurationJob(time.Second), func(tick time.Time) reminders.Reminder {
			return reminders.Reminder{Kind: "pulse"}
		}))
		ps = append(ps, p)
	}
	for _, p := range ps {
		require.NoError(t, p.Start(bg(t)))
	}
	time.Sleep(5 * time.Second)
	for _, p := range ps {
		require.NoError(t, p.Shutdown(bg(t)))
	}

	// Every stored reminder is due already: wait until none is left.
	require.Eventually(t, func() bool {
		st, err := worker.Stats(bg(t))
		return err == nil && st.Pending == 0 && st.InFlight == 0
	}, 10*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond) // a redelivery would show up now

	ds, _ := got.all()
	seen := make(map[string]bool)
	for _, d := range ds {
		assert.Equal(t, 1, got.count(d.ID), "deliveries of %s", d.ID)
		assert.Equal(t, 1, d.Attempt, d.ID)
		seen[d.ID] = true
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	t.Logf("reminders: %v", ids)
	assert.GreaterOrEqual(t, len(ids), 4, "five ticks, one each (±1 at the edges)")
	assert.LessOrEqual(t, len(ids), 6, "five ticks, one each (±1 at the edges)")
	// The ticks are consecutive seconds: none was lost in between.
	for i := 1; i < len(ids); i++ {
		prev, err := time.Parse("2006-01-02T15:04:05Z", ids[i-1][len("pulse@"):])
		require.NoError(t, err)
		cur, err := time.Parse("2006-01-02T15:04:05Z", ids[i][len("pulse@"):])
		require.NoError(t, err)
		assert.Equal(t, time.Second, cur.Sub(prev), "between %s and %s", ids[i-1], ids[i])
	}
}
