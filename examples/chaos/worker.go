package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sytefy/kit/reminders"
)

// workerFlags are what the harness passes to a worker process.
type workerFlags struct {
	addr        string
	prefix      string
	out         string
	lease       time.Duration
	concurrency int
	shards      int
	workMax     time.Duration
}

// runWorker is the worker mode: one reminders worker whose handler records
// each delivery in an append-only file outside the Redis under test, so the
// harness can count deliveries after killing it. Each line is one write(2)
// on an O_APPEND file, so a SIGKILL loses no line already written (the
// kernel has it) and never tears one:
//
//	start <id> <attempt> <due unix ms> <unix ns>   before the handler's work
//	done <id> <attempt> <unix ns>                  after it, before the ack
//
// It stops gracefully on SIGTERM or SIGINT.
func runWorker(f workerFlags) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	out, err := os.OpenFile(f.out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	rec := &recorder{w: out}

	client := redis.NewClient(&redis.Options{Addr: f.addr, ContextTimeoutEnabled: true})
	defer client.Close()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := reminders.NewRedisScheduler(client,
		reminders.WithKeyPrefix(f.prefix),
		reminders.WithLease(f.lease),
		reminders.WithConcurrency(f.concurrency),
		reminders.WithShards(f.shards),
		reminders.WithLogger(logger),
	)
	if err != nil {
		return err
	}
	return s.Run(ctx, reminders.HandlerFunc(func(ctx context.Context, d reminders.Delivery) error {
		rec.printf("start %s %d %d %d\n", d.ID, d.Attempt, d.DueAt.UnixMilli(), time.Now().UnixNano())
		if f.workMax > 0 {
			// The work: long enough that SIGKILLs land mid-handler.
			time.Sleep(rand.N(f.workMax))
		}
		rec.printf("done %s %d %d\n", d.ID, d.Attempt, time.Now().UnixNano())
		return nil
	}))
}

// recorder writes whole lines with one write(2) each.
type recorder struct {
	mu sync.Mutex
	w  io.Writer
}

func (r *recorder) printf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := io.WriteString(r.w, line); err != nil {
		// A worker that cannot record would make the count wrong: die loudly.
		fmt.Fprintf(os.Stderr, "chaos worker: record: %v\n", err)
		os.Exit(3)
	}
}

// workerProc is one worker process the harness started. Instance numbers
// are never reused, so each process has its own record file.
type workerProc struct {
	instance int
	cmd      *exec.Cmd
	out      string
	killedAt time.Time // zero unless SIGKILLed
	exited   chan struct{}
}

// pool starts, kills and replaces worker processes.
type pool struct {
	exe  string
	dir  string
	args []string // worker flags shared by all

	mu    sync.Mutex
	next  int
	live  []*workerProc
	procs []*workerProc
}

func (p *pool) start() (*workerProc, error) {
	p.mu.Lock()
	inst := p.next
	p.next++
	p.mu.Unlock()
	w := &workerProc{
		instance: inst,
		out:      filepath.Join(p.dir, "worker-"+strconv.Itoa(inst)+".log"),
		exited:   make(chan struct{}),
	}
	stderr, err := os.Create(filepath.Join(p.dir, "worker-"+strconv.Itoa(inst)+".stderr"))
	if err != nil {
		return nil, err
	}
	args := append([]string{"-worker", "-out", w.out}, p.args...)
	w.cmd = exec.Command(p.exe, args...)
	w.cmd.Stdout, w.cmd.Stderr = stderr, stderr
	w.cmd.SysProcAttr = childAttr()
	if err := w.cmd.Start(); err != nil {
		_ = stderr.Close()
		return nil, fmt.Errorf("start worker: %w", err)
	}
	go func() {
		_ = w.cmd.Wait()
		_ = stderr.Close()
		close(w.exited)
	}()
	p.mu.Lock()
	p.live = append(p.live, w)
	p.procs = append(p.procs, w)
	p.mu.Unlock()
	return w, nil
}

// killOne SIGKILLs a random live worker, waits for it to die and starts a
// replacement.
func (p *pool) killOne(rng *rand.Rand) error {
	p.mu.Lock()
	if len(p.live) == 0 {
		p.mu.Unlock()
		return fmt.Errorf("no live worker")
	}
	i := rng.IntN(len(p.live))
	w := p.live[i]
	p.live = append(p.live[:i], p.live[i+1:]...)
	p.mu.Unlock()

	_ = w.cmd.Process.Kill()
	<-w.exited
	// Recorded after it is gone: every line it wrote is in its file and
	// every start line before this moment belongs to a killed process.
	w.killedAt = time.Now()
	_, err := p.start()
	return err
}

// stopAll asks every live worker to shut down gracefully (SIGTERM), waits
// up to grace, then SIGKILLs the rest. It returns how many needed SIGKILL.
func (p *pool) stopAll(grace time.Duration) int {
	p.mu.Lock()
	live := p.live
	p.live = nil
	p.mu.Unlock()
	for _, w := range live {
		_ = w.cmd.Process.Signal(syscall.SIGTERM)
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	forced := 0
	for _, w := range live {
		select {
		case <-w.exited:
		case <-ctx.Done():
			_ = w.cmd.Process.Kill()
			<-w.exited
			forced++
		}
	}
	return forced
}

// killAll SIGKILLs every worker still running: the harness's last resort on
// any exit path.
func (p *pool) killAll() {
	p.mu.Lock()
	procs := append([]*workerProc(nil), p.procs...)
	p.mu.Unlock()
	for _, w := range procs {
		select {
		case <-w.exited:
		default:
			_ = w.cmd.Process.Kill()
			<-w.exited
		}
	}
}

// all returns every worker process started so far.
func (p *pool) all() []*workerProc {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*workerProc(nil), p.procs...)
}
