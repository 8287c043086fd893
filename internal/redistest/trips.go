package redistest

import (
	"context"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// TripCounter is a go-redis hook that counts round trips: one per command
// or pipeline. The handshake of a new connection (HELLO, AUTH, SELECT,
// CLIENT, READONLY), which go-redis sends through the same hooks, is not
// part of any operation and is left out. Safe for concurrent use.
type TripCounter struct{ n atomic.Int64 }

// Trips returns the round trips counted so far.
func (h *TripCounter) Trips() int64 { return h.n.Load() }

// DialHook passes dials through.
func (h *TripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook counts a single command.
func (h *TripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !Handshake(cmd) {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook counts a pipeline once, whatever its length.
func (h *TripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && !Handshake(cmds[0]) {
			h.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// Handshake reports whether cmd is one go-redis sends on a new connection
// before any of the caller's (HELLO, AUTH, SELECT, CLIENT, READONLY):
// a round trip of the connection, not of an operation.
func Handshake(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "auth", "select", "client", "readonly":
		return true
	}
	return false
}

// CommandHook is a go-redis hook from a function that runs around each
// single command (next runs it); dials and pipelines pass through.
type CommandHook func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error

// DialHook passes dials through.
func (f CommandHook) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook runs f around the command.
func (f CommandHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { return f(ctx, cmd, next) }
}

// ProcessPipelineHook passes pipelines through.
func (f CommandHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
