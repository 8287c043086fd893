package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAnalyze(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	p := plan{n: 4, t0: t0, step: time.Second}
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	start := func(i, inst, attempt int, d time.Duration) record {
		return record{id: reminderID(i), instance: inst, attempt: attempt, dueMs: p.due(i).UnixMilli(), at: at(d)}
	}
	done := func(i, inst, attempt int, d time.Duration) record {
		return record{done: true, id: reminderID(i), instance: inst, attempt: attempt, at: at(d)}
	}
	outs := []outage{{Kind: "pause", Start: at(10 * time.Second), End: at(15 * time.Second)}}

	t.Run("clean run", func(t *testing.T) {
		var recs []record
		for i := 0; i < p.n; i++ {
			d := time.Duration(i)*time.Second + 5*time.Millisecond
			recs = append(recs, start(i, 0, 1, d), done(i, 0, 1, d+time.Millisecond))
		}
		r := analyze(p, recs, nil, nil, time.Second)
		assert.Equal(t, 4, r.Delivered)
		assert.Empty(t, r.Lost)
		assert.Empty(t, r.failures())
		assert.Equal(t, 5*time.Millisecond, r.OnTime.Max)
	})
	t.Run("lost, early, unknown and wrong DueAt are failures", func(t *testing.T) {
		bad := start(1, 0, 1, 500*time.Millisecond) // due at +1s: early
		bad.dueMs++
		recs := []record{
			start(0, 0, 1, 0), done(0, 0, 1, time.Millisecond),
			bad, done(1, 0, 1, 600*time.Millisecond),
			start(2, 0, 1, 2*time.Second), // never done: lost
			{done: true, id: "r-999999", at: at(0)},
		}
		r := analyze(p, recs, nil, nil, time.Second)
		assert.Equal(t, []string{reminderID(2), reminderID(3)}, r.Lost)
		assert.Equal(t, 1, r.Early)
		assert.Equal(t, 1, r.DueMismatch)
		assert.Equal(t, 1, r.Unknown)
		assert.Len(t, r.failures(), 4)
	})
	t.Run("duplicates are told apart", func(t *testing.T) {
		recs := []record{
			// 0: its worker (1) died mid-handler; worker 2 redelivered.
			start(0, 1, 1, 0), start(0, 2, 2, 30*time.Second), done(0, 2, 2, 31*time.Second),
			// 1: worker 1 finished, then died before the ack landed.
			start(1, 1, 1, time.Second), done(1, 1, 1, 2*time.Second), start(1, 2, 2, 30*time.Second), done(1, 2, 2, 31*time.Second),
			// 2: worker 3 finished long before it was killed, yet it came
			// again with no outage in between: unexplained.
			start(2, 3, 1, 2*time.Second), done(2, 3, 1, 2*time.Second), start(2, 2, 2, 8*time.Second), done(2, 2, 2, 9*time.Second),
			// 3: started before the pause, redelivered after it.
			start(3, 0, 1, 3*time.Second), start(3, 0, 2, 16*time.Second), done(3, 0, 2, 17*time.Second),
		}
		killed := map[int]time.Time{1: at(2500 * time.Millisecond), 3: at(7 * time.Second)}
		r := analyze(p, recs, killed, outs, time.Second)
		assert.Equal(t, 2, r.DupKilled)
		assert.Equal(t, 1, r.DupOutage)
		assert.Equal(t, 1, r.DupOther)
		assert.Empty(t, r.Lost)
		require.Len(t, r.failures(), 1)
		assert.Contains(t, r.failures()[0], "no fault explains")
		assert.Equal(t, 4, r.Redelivered.N)
	})
	t.Run("lateness near an outage is not on-time lateness", func(t *testing.T) {
		q := plan{n: 1, t0: at(14 * time.Second), step: time.Second}
		recs := []record{
			{id: reminderID(0), attempt: 1, dueMs: q.due(0).UnixMilli(), at: at(16 * time.Second)},
			{done: true, id: reminderID(0), attempt: 1, at: at(16 * time.Second)},
		}
		r := analyze(q, recs, nil, outs, time.Second)
		assert.Zero(t, r.OnTime.N)
		assert.Equal(t, 2*time.Second, r.Overall.Max)
	})
}

func TestParseRecords(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.log")
	require.NoError(t, os.WriteFile(path, []byte("start r-000001 2 1700000000000 1700000000000000001\ndone r-000001 2 1700000000000000002\n"), 0o600))
	recs, err := parseRecords(path, 7)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, record{id: "r-000001", attempt: 2, dueMs: 1700000000000, at: time.Unix(0, 1700000000000000001), instance: 7}, recs[0])
	assert.True(t, recs[1].done)

	recs, err = parseRecords(filepath.Join(dir, "missing.log"), 1)
	require.NoError(t, err)
	assert.Empty(t, recs)

	require.NoError(t, os.WriteFile(path, []byte("start r-1 x\n"), 0o600))
	_, err = parseRecords(path, 0)
	assert.ErrorContains(t, err, "malformed")
}

func TestFaults(t *testing.T) {
	var f faults
	w0 := f.state()
	assert.False(t, isDown(w0))
	f.down("pause")
	assert.True(t, isDown(f.state()))
	f.up()
	w2 := f.state()
	assert.False(t, isDown(w2))
	assert.NotEqual(t, w0, w2)
	require.Len(t, f.outages(), 1)
	assert.Equal(t, "pause", f.outages()[0].Kind)
}
