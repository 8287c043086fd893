package reminders

import (
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
	for _, sc := range calls {
		if err := sc.cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			again = append(again, sc)
		}
	}
	if len(again) > 0 {
		pipe := c.Pipeline()
		for _, sc := range again {
			sc.cmd = sc.script.Eval(ctx, pipe, sc.keys, sc.args...)
		}
		_, err := pipe.Exec(ctx)
		failUnanswered(again, err)
	}
	for _, sc := range calls {
		if err := sc.cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return unavailable(err)
		}
	}
	return nil
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
