package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything a run measured; it is printed as tables, then as
// one JSON line.
type report struct {
	Command   string            `json:"command"`
	Flags     map[string]string `json:"flags"`
	Machine   machine           `json:"machine"`
	Redis     serverInfo        `json:"redis"`
	Started   time.Time         `json:"started"`
	Seconds   float64           `json:"seconds"`
	Sessions  []sessionCell     `json:"sessions,omitempty"`
	Reminders []*reminderResult `json:"reminders,omitempty"`
	Targets   []target          `json:"targets"`
	Errors    []string          `json:"errors,omitempty"`
}

// machine describes where the run happened.
type machine struct {
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpu_model"`
	Go         string `json:"go"`
	OSArch     string `json:"os_arch"`
	LoadBefore string `json:"loadavg_before"`
	LoadAfter  string `json:"loadavg_after"`
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OSArch: runtime.GOOS + "/" + runtime.GOARCH, LoadBefore: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// loadAvg is the 1, 5 and 15 minute load averages, or "" off Linux.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// target is one of issue 6's targets, checked against this run's figures.
type target struct {
	Name   string  `json:"name"`
	Figure float64 `json:"figure"`
	Want   string  `json:"want"`
	Met    bool    `json:"met"`
}

// finish completes the report of a run that began at begin and prints
// it. A run in which a phase failed returns an error after printing, so
// that a script running it sees the failure.
func (r *report) finish(w io.Writer, begin time.Time) error {
	r.Seconds = time.Since(begin).Seconds()
	r.Machine.LoadAfter = loadAvg()
	r.checkTargets()
	if err := r.print(w); err != nil {
		return err
	}
	failed := len(r.Errors)
	for _, c := range r.Sessions {
		if c.Err != "" {
			failed++
		}
	}
	for _, res := range r.Reminders {
		failed += len(res.Errors)
	}
	if failed > 0 {
		return fmt.Errorf("%d phases failed; see the report", failed)
	}
	return nil
}

// print writes the tables, then the JSON line.
func (r *report) print(w io.Writer) error {
	fmt.Fprintf(w, "kit benchmark — %s\n", r.Started.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "machine: %d CPUs, %s, %s %s; load average before %s, after %s\n",
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.Go, r.Machine.OSArch, r.Machine.LoadBefore, r.Machine.LoadAfter)
	fmt.Fprintf(w, "redis: %s at %s (kit db %s, asynq db %s)\n", r.Redis.Version, r.Redis.Addr, r.Flags["kit-db"], r.Flags["asynq-db"])
	fmt.Fprintf(w, "command: %s\n", r.Command)
	if len(r.Sessions) > 0 {
		r.printSessions(w)
	}
	if len(r.Reminders) > 0 {
		r.printReminders(w)
	}
	if len(r.Targets) > 0 {
		fmt.Fprintln(w, "\ntargets (issue 6)")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, t := range r.Targets {
			mark := "MISSED"
			if t.Met {
				mark = "met"
			}
			fmt.Fprintf(tw, "  %s\t%s\twant %s\t%s\n", t.Name, trim(t.Figure), t.Want, mark)
		}
		tw.Flush()
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
	fmt.Fprintf(w, "run took %.0fs\n", r.Seconds)
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func (r *report) printSessions(w io.Writer) {
	fmt.Fprintf(w, "\nsessions: %s per cell; ratio = ops/s over the raw command's at the same concurrency\n", r.Flags["cell"])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tconc\tops/s\tp50 ms\tp99 ms\tround trips/op\tratio\t")
	for _, c := range r.Sessions {
		rat := ""
		if c.Raw != "" {
			rat = fmt.Sprintf("%.2f× %s", c.Ratio, strings.TrimSuffix(c.Raw, " (raw)"))
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.3f\t%.3f\t%.3f\t%s\t\n", c.Op, c.Conc, c.OpsPerSec, c.P50, c.P99, c.TripsPerOp, rat)
		if c.Err != "" {
			fmt.Fprintf(tw, "  error: %s\t\t\t\t\t\t\t\n", c.Err)
		}
	}
	tw.Flush()
}

func (r *report) printReminders(w io.Writer) {
	kit, as := r.Reminders[0], &reminderResult{}
	two := len(r.Reminders) > 1
	if two {
		as = r.Reminders[1]
	}
	f := r.Flags
	fmt.Fprintf(w, "\nreminders: %s reminders, %d-byte payloads; kit/asynq > 1 is kit faster for rates, smaller is better for the rest\n", f["reminders"], payloadSize)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	// row prints a figure with its kit/asynq ratio; count prints one for
	// which a ratio means nothing; head prints a heading.
	row := func(name string, k, a float64, format string) {
		if two {
			fmt.Fprintf(tw, "%s\t"+format+"\t"+format+"\t%s\t\n", name, k, a, formatRatio(ratio(k, a)))
		} else {
			fmt.Fprintf(tw, "%s\t"+format+"\t\n", name, k)
		}
	}
	count := func(name string, k, a int64) {
		if two {
			fmt.Fprintf(tw, "%s\t%d\t%d\t\t\n", name, k, a)
		} else {
			fmt.Fprintf(tw, "%s\t%d\t\n", name, k)
		}
	}
	head := func(name string) {
		if two {
			fmt.Fprintf(tw, "%s\t\t\t\t\n", name)
		} else {
			fmt.Fprintf(tw, "%s\t\t\n", name)
		}
	}
	if two {
		fmt.Fprintln(tw, "figure\tkit\tasynq\tkit/asynq\t")
	} else {
		fmt.Fprintln(tw, "figure\tkit\t")
	}
	row("schedule, one per call, conc "+f["schedule-conc"]+" (reminders/s)", kit.SchedulePerSec, as.SchedulePerSec, "%.0f")
	row("  latency p50 (ms)", kit.ScheduleP50, as.ScheduleP50, "%.3f")
	row("  latency p99 (ms)", kit.ScheduleP99, as.ScheduleP99, "%.3f")
	row("  round trips per reminder", kit.ScheduleTripsPerR, as.ScheduleTripsPerR, "%.3f")
	batch := "schedule, batches of " + f["batch"] + ", conc " + f["schedule-conc"] + " (reminders/s)"
	if !as.BatchAPI && as.System != "" {
		batch += " [asynq: no batch call, one per call]"
	}
	row(batch, kit.BatchPerSec, as.BatchPerSec, "%.0f")
	row("  round trips per reminder", kit.BatchTripsPerR, as.BatchTripsPerR, "%.3f")
	row("drain of all due, "+f["handlers"]+" handlers (reminders/s)", kit.DrainPerSec, as.DrainPerSec, "%.0f")
	count("  delivered", kit.DrainN, as.DrainN)
	count("  duplicates", kit.DrainDuplicates, as.DrainDuplicates)
	row("  longest SLOWLOG command (ms)", float64(kit.DrainSlowest.Micros)/1000, float64(as.DrainSlowest.Micros)/1000, "%.3f")
	count("  SLOWLOG entries ≥ "+f["slowlog-threshold"], int64(kit.DrainSlowest.Logged), int64(as.DrainSlowest.Logged))
	steady := fmt.Sprintf("lateness at %s/s for %s, due %s..%s after scheduling (ms)", f["rate"], f["steady"], f["min-offset"], f["max-offset"])
	head(steady)
	row("  p50", kit.Lateness.P50, as.Lateness.P50, "%.3f")
	row("  p90", kit.Lateness.P90, as.Lateness.P90, "%.3f")
	row("  p99", kit.Lateness.P99, as.Lateness.P99, "%.3f")
	row("  max", kit.Lateness.Max, as.Lateness.Max, "%.3f")
	if two { // no ratio: a negative minimum is the point
		fmt.Fprintf(tw, "  min (negative: early)\t%.3f\t%.3f\t\t\n", kit.Lateness.Min, as.Lateness.Min)
	} else {
		fmt.Fprintf(tw, "  min (negative: early)\t%.3f\t\n", kit.Lateness.Min)
	}
	count("  early deliveries", int64(kit.Early), int64(as.Early))
	count("  delivered", kit.SteadyDelivered, as.SteadyDelivered)
	count("  scheduled", kit.SteadyScheduled, as.SteadyScheduled)
	count("  duplicates", kit.SteadyDuplicates, as.SteadyDuplicates)
	row("memory per pending reminder, INFO delta (bytes)", kit.MemoryPerPending, as.MemoryPerPending, "%.0f")
	row("  MEMORY USAGE sum (bytes)", kit.MemoryUsagePerPending, as.MemoryUsagePerPending, "%.0f")
	for _, typ := range memoryTypes(kit, as) {
		row("    in keys of type "+typ, kit.MemoryUsageByTypePerPending[typ], as.MemoryUsageByTypePerPending[typ], "%.0f")
	}
	tw.Flush()
	for _, res := range r.Reminders {
		if c := res.DrainSlowest.Command; c != "" {
			fmt.Fprintf(w, "%s longest drain command: %s (%d µs)", res.System, c, res.DrainSlowest.Micros)
			if res.DrainSlowest.Missed {
				fmt.Fprint(w, " — SLOWLOG rotated between polls; a longer one may be missed")
			}
			fmt.Fprintln(w)
		}
		for _, e := range res.Errors {
			fmt.Fprintf(w, "%s error: %s\n", res.System, e)
		}
	}
}

// formatRatio prints a ratio with two significant digits at least, so that
// 0.0006 does not print as 0.00; 0 (not measured) prints empty.
func formatRatio(r float64) string {
	switch {
	case r == 0:
		return ""
	case math.Abs(r) >= 0.1:
		return fmt.Sprintf("%.2f", r)
	default:
		return fmt.Sprintf("%.2g", r)
	}
}

// trim prints a figure without trailing zeros.
func trim(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// checkTargets compares the figures with issue 6's targets. A figure that
// was not measured (a skipped part, a failed phase) is not listed.
func (r *report) checkTargets() {
	add := func(name string, fig float64, want string, met bool) {
		r.Targets = append(r.Targets, target{Name: name, Figure: fig, Want: want, Met: met})
	}
	maxTrips := 0.0
	for _, c := range r.Sessions {
		if c.Raw != "" && c.Ratio > 0 && c.Op == opIsActive && (c.Conc == 16 || c.Conc == 64) {
			add(fmt.Sprintf("IsActive / GET ops/s at conc %d", c.Conc), c.Ratio, "≥ 0.9", c.Ratio >= 0.9)
		}
		if c.Raw != "" && c.Ops > 0 {
			maxTrips = max(maxTrips, c.TripsPerOp)
		}
	}
	if len(r.Sessions) > 0 {
		add("session operation round trips (max over cells)", maxTrips, "1", maxTrips <= 1.0005)
	}
	if len(r.Reminders) == 0 {
		return
	}
	k := r.Reminders[0]
	if k.Lateness.N > 0 {
		add("kit lateness p99 (ms)", k.Lateness.P99, "≤ 10", k.Lateness.P99 <= 10)
		add("kit early deliveries", float64(k.Early), "0", k.Early == 0)
	}
	if k.DrainN > 0 {
		add("kit longest SLOWLOG command while draining (ms)", float64(k.DrainSlowest.Micros)/1000, "≤ 5", k.DrainSlowest.Micros <= 5000 && !k.DrainSlowest.Missed)
	}
	if len(r.Reminders) < 2 {
		return
	}
	a := r.Reminders[1]
	pair := func(name string, kv, av float64, want string, ok func(float64) bool) {
		if kv > 0 && av > 0 {
			v := kv / av
			add(name, v, want, ok(v))
		}
	}
	pair("schedule one per call, kit/asynq", k.SchedulePerSec, a.SchedulePerSec, "≥ 1.0", func(v float64) bool { return v >= 1 })
	pair("ScheduleMany, kit/asynq", k.BatchPerSec, a.BatchPerSec, "≥ 5", func(v float64) bool { return v >= 5 })
	pair("drain, kit/asynq", k.DrainPerSec, a.DrainPerSec, "≥ 3", func(v float64) bool { return v >= 3 })
	pair("memory per pending reminder (INFO delta), kit/asynq", k.MemoryPerPending, a.MemoryPerPending, "≤ 0.4", func(v float64) bool { return v <= 0.4 })
}

// memoryTypes lists the key types either system's pending reminders took
// memory in, in name order.
func memoryTypes(rs ...*reminderResult) []string {
	var types []string
	for _, r := range rs {
		for typ := range r.MemoryUsageByTypePerPending {
			if !slices.Contains(types, typ) {
				types = append(types, typ)
			}
		}
	}
	slices.Sort(types)
	return types
}
