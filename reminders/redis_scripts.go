package reminders

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

//go:embed scripts/*.lua
var scriptFS embed.FS

// The scripts, each lib.lua followed by its own file, but for schedule.lua,
// the hot path, which needs none of it. Every state change of a reminder
// is one of them, on one shard's keys (newShardKeys.all).
var (
	scriptSchedule = redis.NewScript(readScript("schedule"))
	scriptCancel   = loadScript("cancel")
	scriptClaim    = loadScript("claim")
	scriptSettle   = loadScript("settle")
	scriptExtend   = loadScript("extend")
	scriptRelease  = loadScript("release")
	scriptRequeue  = loadScript("requeue")
	scriptGet      = loadScript("get")
	scriptDead     = loadScript("dead")
	scriptDelete   = loadScript("delete_dead")
	scriptStats    = loadScript("stats")
)

func loadScript(name string) *redis.Script {
	return redis.NewScript(readScript("lib") + readScript(name))
}

func readScript(name string) string {
	b, err := scriptFS.ReadFile("scripts/" + name + ".lua")
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	return string(b)
}

// scriptCall is one script run, queued for a pipeline.
type scriptCall struct {
	script *redis.Script
	keys   []string
	args   []any
	cmd    *redis.Cmd
}

// runPipelined runs calls in one pipeline (one round trip per node) with
// EVALSHA, then runs again with EVAL, in a second pipeline, the calls a
// node refused with NOSCRIPT (a restarted or new node, a flushed script
// cache): those did not run, so nothing runs twice. Each call's result is
// in its cmd; the error returned is the first, wrapped in ErrUnavailable.
func runPipelined(ctx context.Context, c redis.UniversalClient, calls []*scriptCall) error {
	return runScripts(ctx, c, calls, false)
}

// runInOrder is runPipelined for calls whose order matters among those of
// one shard (the same keys): ScheduleMany's chunks, where the later of
// two reminders with one ID wins. A node reads a large pipeline in parts
// and serves other clients in between, so another client's EVAL may load
// the script after the node refused a call and before it reads the next
// ones, which then run: running the refused call again afterwards would
// undo them. So every call of a shard from its first refused one on runs
// again, in order. One that ran the first time and fails the second keeps
// the first's result (so that what it stored is reported), and its error
// is returned: the batch may then hold an earlier reminder of an ID, as
// any batch that fails may, until it is retried.
func runInOrder(ctx context.Context, c redis.UniversalClient, calls []*scriptCall) error {
	return runScripts(ctx, c, calls, true)
}

func runScripts(ctx context.Context, c redis.UniversalClient, calls []*scriptCall, inOrder bool) error {
	if len(calls) == 0 {
		return nil
	}
	pipe := c.Pipeline()
	for _, sc := range calls {
		sc.cmd = sc.script.EvalSha(ctx, pipe, sc.keys, sc.args...)
	}
	_, err := pipe.Exec(ctx)
	failUnanswered(calls, err)
	var again []*scriptCall
	var ran []*redis.Cmd         // ran[i]: again[i]'s first result, when it ran
	refused := map[string]bool{} // shards (first key) with a refused call so far
	for _, sc := range calls {
		if isNoScript(sc.cmd.Err()) {
			refused[sc.keys[0]] = true
			again, ran = append(again, sc), append(ran, nil)
		} else if inOrder && refused[sc.keys[0]] {
			again, ran = append(again, sc), append(ran, sc.cmd)
		}
	}
	var failed error
	if len(again) > 0 {
		pipe := c.Pipeline()
		for _, sc := range again {
			sc.cmd = sc.script.Eval(ctx, pipe, sc.keys, sc.args...)
		}
		_, err := pipe.Exec(ctx)
		failUnanswered(again, err)
		for i, sc := range again {
			if err := sc.cmd.Err(); err != nil && !errors.Is(err, redis.Nil) && ran[i] != nil && ran[i].Err() == nil {
				failed = cmp.Or(failed, err)
				sc.cmd = ran[i]
			}
		}
	}
	for _, sc := range calls {
		if err := sc.cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			failed = cmp.Or(failed, err)
			break
		}
	}
	if failed != nil {
		return unavailable(failed)
	}
	return nil
}

func isNoScript(err error) bool {
	return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT")
}

// failUnanswered gives the pipeline's error to the calls that got neither
// a reply nor an error: go-redis leaves them so when the connection itself
// failed (refused, or a handshake Redis rejected, like a wrong password).
func failUnanswered(calls []*scriptCall, err error) {
	if err == nil {
		return
	}
	for _, sc := range calls {
		if sc.cmd.Err() == nil && sc.cmd.Val() == nil {
			sc.cmd.SetErr(err)
		}
	}
}

// unavailable wraps a Redis or context error in ErrUnavailable, keeping
// the cause for errors.Is (context.DeadlineExceeded, for example).
func unavailable(err error) error {
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
