package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// record is one line a worker wrote.
type record struct {
	done     bool // false: "start"
	id       string
	attempt  int
	dueMs    int64 // start lines only: the DueAt the handler saw
	at       time.Time
	instance int
}

// parseRecords reads one worker's file. A SIGKILL can cut the last line
// short only if write(2) itself was cut, which a regular file never does;
// a malformed line is an error all the same, not skipped.
func parseRecords(path string, instance int) ([]record, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil // killed before its first delivery
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var recs []record
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		r, err := parseLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		r.instance = instance
		recs = append(recs, r)
	}
	return recs, sc.Err()
}

func parseLine(line string) (record, error) {
	f := strings.Fields(line)
	var r record
	var err error
	num := func(s string) int64 {
		if err != nil {
			return 0
		}
		var v int64
		v, err = strconv.ParseInt(s, 10, 64)
		return v
	}
	switch {
	case len(f) == 5 && f[0] == "start":
		r.id, r.attempt, r.dueMs, r.at = f[1], int(num(f[2])), num(f[3]), time.Unix(0, num(f[4]))
	case len(f) == 4 && f[0] == "done":
		r.done, r.id, r.attempt, r.at = true, f[1], int(num(f[2])), time.Unix(0, num(f[3]))
	default:
		return r, fmt.Errorf("malformed record %q", line)
	}
	if err != nil {
		return r, fmt.Errorf("record %q: %w", line, err)
	}
	return r, nil
}

// plan is what the harness scheduled: reminder i has ID reminderID(i) and
// is due at t0 + i·step.
type plan struct {
	n    int
	t0   time.Time
	step time.Duration
}

func reminderID(i int) string { return fmt.Sprintf("r-%06d", i) }

func (p plan) due(i int) time.Time { return p.t0.Add(time.Duration(i) * p.step) }

// end is the last due time.
func (p plan) end() time.Time { return p.due(p.n - 1) }

// latency summarises a set of durations.
type latency struct {
	N             int
	P50, P99, Max time.Duration
}

func summarize(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[int(q*float64(len(ds)-1))] }
	return latency{N: len(ds), P50: at(0.50), P99: at(0.99), Max: ds[len(ds)-1]}
}

func (l latency) String() string {
	if l.N == 0 {
		return "n=0"
	}
	return fmt.Sprintf("max %s, p99 %s, p50 %s (n=%d)", round(l.Max), round(l.P99), round(l.P50), l.N)
}

func round(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }

// reminderReport is the reminders half of the verdict.
type reminderReport struct {
	Scheduled   int
	Delivered   int      // IDs whose handler finished at least once
	Lost        []string // IDs no handler ever finished (must be empty)
	Early       int      // handler starts before the due time (must be 0)
	DueMismatch int      // deliveries whose DueAt differs from the plan (must be 0)
	Unknown     int      // records for IDs never scheduled (must be 0)
	Starts      int      // handler starts in all
	// Extra starts of an ID already started, by why the earlier attempt
	// did not count.
	DupKilled int // its worker was SIGKILLed mid-handler: allowed
	DupOutage int // its lease ran out while Redis was unreachable
	DupOther  int // no fault explains it (should be 0)
	// OnTime is the lateness of first attempts of reminders not due during
	// an outage or within the settle time after one.
	OnTime latency
	// Redelivered is the lateness of attempts after the first (a killed
	// worker's lease had to expire first).
	Redelivered latency
	// Overall is every reminder's first start, outages included.
	Overall latency
}

// killTolerance is how long before a SIGKILL a handler may have finished
// and still count as killed mid-handler: its ack was on the wire.
const killTolerance = time.Second

// analyze checks every worker record against the plan.
func analyze(p plan, recs []record, killedAt map[int]time.Time, outs []outage, settle time.Duration) reminderReport {
	rep := reminderReport{Scheduled: p.n}
	index := make(map[string]int, p.n)
	for i := 0; i < p.n; i++ {
		index[reminderID(i)] = i
	}
	type key struct {
		id       string
		instance int
		attempt  int
	}
	starts := make(map[string][]record)
	done := make(map[key]time.Time)
	finished := make(map[string]bool)
	for _, r := range recs {
		if _, ok := index[r.id]; !ok {
			rep.Unknown++
			continue
		}
		if r.done {
			done[key{r.id, r.instance, r.attempt}] = r.at
			finished[r.id] = true
			continue
		}
		starts[r.id] = append(starts[r.id], r)
	}
	var onTime, redelivered, overall []time.Duration
	for i := 0; i < p.n; i++ {
		id := reminderID(i)
		due := p.due(i)
		if finished[id] {
			rep.Delivered++
		} else {
			rep.Lost = append(rep.Lost, id)
		}
		ss := starts[id]
		slices.SortFunc(ss, func(a, b record) int { return a.at.Compare(b.at) })
		rep.Starts += len(ss)
		for j, s := range ss {
			late := s.at.Sub(due)
			if late < 0 {
				rep.Early++
			}
			if s.dueMs != due.UnixMilli() && s.dueMs != ceilMilli(due) {
				rep.DueMismatch++
			}
			if j == 0 {
				overall = append(overall, late)
			}
			if j == 0 && s.attempt == 1 {
				if !nearOutage(outs, due, settle) {
					onTime = append(onTime, late)
				}
			} else {
				redelivered = append(redelivered, late)
			}
			if j == 0 {
				continue
			}
			prev := ss[j-1]
			k, killed := killedAt[prev.instance]
			fin, hasDone := done[key{id, prev.instance, prev.attempt}]
			switch {
			case killed && !k.Before(prev.at) && (!hasDone || k.Sub(fin) < killTolerance):
				rep.DupKilled++
			case overlapsOutage(outs, prev.at, s.at):
				rep.DupOutage++
			default:
				rep.DupOther++
			}
		}
	}
	rep.OnTime = summarize(onTime)
	rep.Redelivered = summarize(redelivered)
	rep.Overall = summarize(overall)
	return rep
}

// ceilMilli is t in Unix milliseconds rounded up, as the library stores it.
func ceilMilli(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.After(time.UnixMilli(ms)) {
		ms++
	}
	return ms
}

func overlapsOutage(outs []outage, from, to time.Time) bool {
	for _, o := range outs {
		if o.Start.Before(to) && o.End.After(from) {
			return true
		}
	}
	return false
}

// failures lists the must-be-zero counts that are not zero.
func (r reminderReport) failures() []string {
	var f []string
	add := func(ok bool, format string, args ...any) {
		if !ok {
			f = append(f, fmt.Sprintf(format, args...))
		}
	}
	add(len(r.Lost) == 0, "%d reminders lost (first: %s)", len(r.Lost), first(r.Lost))
	add(r.Early == 0, "%d early deliveries", r.Early)
	add(r.DueMismatch == 0, "%d deliveries with a DueAt that differs from the one scheduled", r.DueMismatch)
	add(r.Unknown == 0, "%d deliveries of reminders never scheduled", r.Unknown)
	add(r.DupOther == 0, "%d duplicate deliveries no fault explains", r.DupOther)
	return f
}

func first(ss []string) string {
	if len(ss) == 0 {
		return "-"
	}
	return ss[0]
}
