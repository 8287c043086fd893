package reminders

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// wakeBox collects what the wake channel announces ("shard s has a
// reminder due at ms") between two turns of the worker loop, keeping the
// earliest per shard, and pokes the loop.
type wakeBox struct {
	mu      sync.Mutex
	pending map[int]int64
	ch      chan struct{} // capacity 1: "something arrived"
}

func newWakeBox() *wakeBox {
	return &wakeBox{pending: make(map[int]int64), ch: make(chan struct{}, 1)}
}

func (b *wakeBox) add(shard int, due int64) {
	b.mu.Lock()
	if cur, ok := b.pending[shard]; !ok || due < cur {
		b.pending[shard] = due
	}
	b.mu.Unlock()
	select {
	case b.ch <- struct{}{}:
	default:
	}
}

// mergeInto lowers next[shard] to each announced due time, and forgets them,
// except for shards keep(sh) holds back: their announcements stay for a
// later merge (a shard whose claim is under way: its result overwrites
// next[shard] with what the claim saw, which may predate the announcement).
func (b *wakeBox) mergeInto(next []int64, keep func(sh int) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for sh, due := range b.pending {
		if keep != nil && keep(sh) {
			continue
		}
		if due < next[sh] {
			next[sh] = due
		}
		delete(b.pending, sh)
	}
}

// listen subscribes to the wake channel and feeds box until ctx ends. It
// closes ready once the first subscription is confirmed, so that the worker
// claims only once nothing scheduled after its first look can go unheard.
// It resubscribes with backoff when Redis cannot be reached; go-redis
// reconnects a confirmed subscription by itself. Announcements lost while
// disconnected cost at most pollCap of lateness: every shard is looked at
// that often anyway.
func (w *worker) listen(ctx context.Context, box *wakeBox, ready chan<- struct{}) {
	n := len(w.s.keys)
	for fails := 0; ctx.Err() == nil; fails++ {
		if fails > 0 && !sleepCtx(ctx, retryDelay(fails)) {
			return
		}
		ps := w.s.client.Subscribe(ctx, w.s.wake)
		confirm, cancel := context.WithTimeout(ctx, redisOpTimeout)
		_, err := ps.Receive(confirm)
		cancel()
		if err != nil {
			_ = ps.Close()
			if ctx.Err() == nil {
				w.log.LogAttrs(ctx, slog.LevelWarn, "reminders: cannot subscribe to wake-ups; polling meanwhile",
					slog.String("channel", w.s.wake), slog.Any("error", err))
			}
			continue
		}
		if ready != nil {
			close(ready)
			ready = nil
		}
		msgs := ps.Channel()
		for done := false; !done; {
			select {
			case <-ctx.Done():
				_ = ps.Close()
				return
			case m, ok := <-msgs:
				if !ok {
					done = true // closed under us: subscribe again
					break
				}
				sh, due, ok := parseWake(m.Payload, n)
				if ok {
					box.add(sh, due)
				}
			}
		}
		_ = ps.Close()
	}
}

// parseWake decodes "<shard>:<due ms>"; ok is false for anything else
// (another library's message, a shard count that differs).
func parseWake(s string, shards int) (shard int, due int64, ok bool) {
	a, b, found := strings.Cut(s, ":")
	if !found {
		return 0, 0, false
	}
	sh, err1 := strconv.Atoi(a)
	ms, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || sh < 0 || sh >= shards {
		return 0, 0, false
	}
	return sh, ms, true
}

// sleepCtx sleeps for d or until ctx ends; it reports whether it slept the
// whole d.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
