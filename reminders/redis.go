package reminders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
)

// RedisScheduler stores reminders in Redis sorted sets and, through Run,
// delivers them to a Handler at least once: the scheduling side of an
// application calls Schedule and Cancel; worker processes call Run. Any
// number of schedulers and workers, on any number of hosts, may share one
// key prefix; all of them must use the same WithShards.
//
// Every state change of a reminder is one Lua script on one shard (or, for
// ScheduleMany of a small batch, one MULTI/EXEC transaction), so a
// reminder is never half-written and never claimed twice. Due and lease
// times are judged in Redis server time. The source's keys.go describes
// the key layout, and scripts/lib.lua the record format.
//
// Redis must not evict keys (maxmemory-policy noeviction, or no maxmemory):
// an evicted record is a lost reminder.
//
// A RedisScheduler is safe for concurrent use. Before Run, its only
// goroutines are those Schedule's group commit starts while calls queue: a
// sender per shard, which ends when the shard's queue is empty, and one to
// report to the observer the reminders of callers that returned before
// their reply, which ends when the observer has returned. It never closes
// the client. The zero value is not usable; call NewRedisScheduler.
type RedisScheduler struct {
	client redis.UniversalClient
	opts   *options
	keys   []shardKeys     // per shard
	wake   string          // pub/sub channel
	clocks shardClocks     // Redis time per shard, for wake-up decisions
	queues []scheduleQueue // per shard, for Schedule's group commit
	sends  sync.WaitGroup  // group commit's goroutines (senders, reports)
}

var _ Scheduler = (*RedisScheduler)(nil)

// scheduleChunk and scheduleChunkBytes bound the reminders one schedule
// script stores, in number and in payload bytes, so that ScheduleMany of a
// million reminders, or of a few large ones, never blocks Redis for long
// nor sends it one huge command: chunks are separate script calls in the
// same pipeline (one round trip), between which Redis serves other
// clients. A chunk holds one reminder at least. (A batch within txMax goes
// in one transaction instead; see redis_batch.go.)
const (
	scheduleChunk      = 128
	scheduleChunkBytes = 1 << 20
)

// chunkLen is how many reminders from the front of rs go in one chunk.
func chunkLen(rs []Reminder) int {
	n, size := 0, 0
	for n < len(rs) && !chunkFull(n, size, len(rs[n].Payload)) {
		size += len(rs[n].Payload)
		n++
	}
	return n
}

// chunkFull reports whether a chunk of n reminders with size bytes of
// payload has no room for one more of next bytes; the first always fits.
func chunkFull(n, size, next int) bool {
	return n == scheduleChunk || (n > 0 && size+next > scheduleChunkBytes)
}

// NewRedisScheduler returns a scheduler on client: a *redis.Client (a
// failover client included) or a *redis.ClusterClient. It returns an
// error wrapping ErrInvalid for a nil client (a typed nil such as
// (*redis.Client)(nil) included), a *redis.Ring, or an invalid option. It
// needs Redis 6.2 or later: the scripts call ZMSCORE.
//
// A Ring is refused because it loses reminders: while one of its nodes is
// down it sends that node's keys to another, and when the node is back it
// sends them to it again, so the reminders scheduled meanwhile are left
// on a node nothing reads; its nodes do not share pub/sub either, so
// wake-ups would not reach every worker.
//
// Enable ContextTimeoutEnabled on the client, so that a context's deadline
// ends every call, the worker's own included (it gives each of its Redis
// calls a 5s deadline, so that a hung server delays a worker, never wedges
// it). Without it, go-redis does not cut a read at the deadline: a call to
// a Redis that accepts connections but stops answering returns up to the
// client's ReadTimeout after its deadline, and one without a deadline
// after up to MaxRetries+1 read timeouts (go-redis v9.22 defaults: 5s, and
// about 20s; a ClusterClient's MaxRedirects+1 rounds also come to 20s).
//
// Give it a client that reads from masters. With replica reads enabled
// (ClusterOptions ReadOnly, RouteByLatency or RouteRandomly) go-redis sends
// plain reads to replicas, which lag: Stats would count stale state, and a
// Periodic's tick marks (RedisTickStore) read stale could store a tick
// twice. Scripts, which make every state change and serve Get and
// Dead's records, run on masters whatever the routing.
func NewRedisScheduler(client redis.UniversalClient, opts ...Option) (*RedisScheduler, error) {
	if err := checkClient("NewRedisScheduler", client); err != nil {
		return nil, err
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	s := &RedisScheduler{client: client, opts: o, keys: make([]shardKeys, o.shards), wake: wakeChannel(o.prefix),
		clocks: make(shardClocks, o.shards), queues: make([]scheduleQueue, o.shards)}
	for i := range s.keys {
		s.keys[i] = newShardKeys(o.prefix, i)
	}
	return s, nil
}

// Schedule stores r for delivery at r.DueAt, replacing any reminder with
// the same ID, whether pending, in flight or dead: the replacement starts
// at attempt 1, and an attempt running meanwhile no longer counts (its
// outcome is ignored, and its context is cancelled when the worker next
// renews its lease). Workers sleeping past r.DueAt are woken when it is
// due within a minute by the Redis clock (which the script reads every
// 5s); every worker looks at each shard at least once a second, so one
// due later needs no wake-up.
//
// Concurrent calls share round trips (group commit): one Schedule script
// call per shard is in flight at a time (ScheduleMany of more than one
// reminder is not counted), and the calls made meanwhile for that shard
// queue up and go together in the next one (up to 128 reminders and
// 1 MiB of payload each; the rest in the ones after), so Redis runs one
// script for many reminders. A call made alone goes at once. Under load a
// call waits for the script call ahead of it, and a slow reply (a large
// payload, a busy Redis) delays the shard's other calls as long; more
// shards (WithShards) mean more calls in flight. A caller whose reminder
// goes with others' returns when its own context ends; the script call
// is cancelled by none of them and has the latest of their deadlines (none
// if one has none). One that goes alone makes an ordinary go-redis call
// on ctx. The client's timeouts bound both.
//
// It returns an error wrapping ErrInvalid, naming the field, for bad input
// (nothing is written), and ErrUnavailable when Redis fails or ctx ends
// first. A call whose context ended while it still waited in the queue
// wrote nothing. Otherwise the script either ran whole or not at all, but
// a reply lost on the way back, or a context that ended while the script
// call was on its way, hides which, and the write may land after the call
// returned. Retry with the same ID: the retry replaces the reminder. (As
// for any command whose reply is lost, a first write still in the network
// could land after the retry's; Get shows what is stored.)
func (s *RedisScheduler) Schedule(ctx context.Context, r Reminder) error {
	return s.ScheduleMany(ctx, []Reminder{r})
}

// ScheduleMany stores the reminders as Schedule does. It validates them
// all first: for bad input it returns an error wrapping ErrInvalid that
// names the reminder's index and field, and writes nothing. Then it writes
// a batch of up to 1,024 reminders and 1 MiB of payload in one MULTI/EXEC
// transaction per shard (one round trip each, the shards' at the same
// time), and a larger one in one pipeline of script calls of at most 128
// reminders (one round trip per Redis node), between which Redis serves
// other clients. Each reminder is stored atomically, the batch is not: on
// an error wrapping ErrUnavailable some may be stored; retrying is safe.
// When an ID appears twice, the later reminder wins.
func (s *RedisScheduler) ScheduleMany(ctx context.Context, rs []Reminder) error {
	for i, r := range rs {
		if err := validate(r, s.opts.maxPayload); err != nil {
			if len(rs) == 1 {
				return err
			}
			return fmt.Errorf("reminder %d: %w", i, err)
		}
	}
	if len(rs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return unavailable(err)
	}
	if len(rs) == 1 {
		return s.scheduleOne(ctx, rs[0]) // see redis_groupcommit.go
	}
	byShard := make([][]Reminder, len(s.keys))
	for _, r := range rs {
		sh := shardOf(r.ID, len(s.keys))
		byShard[sh] = append(byShard[sh], r)
	}
	if fitsTx(rs) {
		return s.scheduleTx(ctx, byShard, len(rs))
	}
	// The script calls of a shard run one after another, and Redis serves
	// other clients between them: an ID's earlier reminder, in an earlier
	// call, could be claimed and delivered before the later one is stored.
	// Only each ID's last reminder is sent.
	for sh, list := range byShard {
		byShard[sh] = lastOfEachID(list)
	}
	var calls []*scriptCall
	var shards []int        // shards[i] is calls[i]'s
	var chunks [][]Reminder // chunks[i] is what calls[i] stores
	for sh, list := range byShard {
		for len(list) > 0 {
			n := chunkLen(list)
			calls = append(calls, &scriptCall{script: scriptSchedule, keys: s.keys[sh].all(), args: scheduleArgs(sh, list[:n], s.clocks, s.wake)})
			shards = append(shards, sh)
			chunks = append(chunks, list[:n])
			list = list[n:]
		}
	}
	err := runInOrder(ctx, s.client, calls)
	for i, c := range calls {
		if c.cmd.Err() == nil {
			s.clocks.record(shards[i], c.cmd.Val())
			// Stored, whatever became of the other calls: the observer
			// hears of every reminder stored.
			s.scheduled(ctx, shards[i], chunks[i])
		} else {
			s.clocks.forget(shards[i])
		}
	}
	if err != nil {
		s.opts.logger.LogAttrs(ctx, slog.LevelWarn, "reminders: schedule failed",
			slog.Int("reminders", len(rs)), slog.Any("error", err))
		return err
	}
	return nil
}

// lastOfEachID returns rs without the reminders whose ID comes again
// later, in order; rs itself when no ID repeats.
func lastOfEachID(rs []Reminder) []Reminder {
	last := make(map[string]int, len(rs))
	for i, r := range rs {
		last[r.ID] = i
	}
	if len(last) == len(rs) {
		return rs
	}
	out := make([]Reminder, 0, len(last))
	for i, r := range rs {
		if last[r.ID] == i {
			out = append(out, r)
		}
	}
	return out
}

// scheduled reports stored reminders of one shard to the observer and the
// debug log.
func (s *RedisScheduler) scheduled(ctx context.Context, shard int, rs []Reminder) {
	for _, r := range rs {
		s.observe(Event{Type: EventScheduled, ID: r.ID, Kind: r.Kind, Attempt: 1, Shard: shard})
		s.opts.logger.LogAttrs(ctx, slog.LevelDebug, "reminders: scheduled",
			slog.String("task_name", r.Kind), slog.String("reminder_id", r.ID), slog.Int("attempt", 1),
			slog.Time("due_at", r.DueAt))
	}
}

// Cancel removes a pending or in-flight reminder: no further attempt
// happens, and an attempt running meanwhile no longer counts (its context
// is cancelled when the worker next renews its lease, within a third of
// the lease). An attempt a worker had claimed is in flight even before its
// handler starts, so that handler may start after Cancel returns; its
// outcome is ignored all the same. It returns an error
// wrapping ErrNotFound when the ID is neither pending nor in flight (a dead
// reminder is left in the dead set), ErrInvalid for a malformed ID, and
// ErrUnavailable when Redis fails or ctx ends first. When go-redis sends
// the call again after its reply was lost (it retries on a dropped
// connection or a read timeout), the second run finds nothing left, and
// Cancel returns ErrNotFound for a reminder the first run cancelled.
func (s *RedisScheduler) Cancel(ctx context.Context, id string) error {
	if err := validName("ID", id); err != nil {
		return err
	}
	sh := shardOf(id, len(s.keys))
	n, err := scriptCancel.Run(ctx, s.client, s.keys[sh].all(), id).Int()
	if err != nil {
		return unavailable(err)
	}
	if n == 0 {
		return fmt.Errorf("%w: reminder %q", ErrNotFound, id)
	}
	s.opts.logger.LogAttrs(ctx, slog.LevelDebug, "reminders: cancelled", slog.String("reminder_id", id))
	return nil
}

func (s *RedisScheduler) observe(e Event) {
	if s.opts.observer != nil {
		s.opts.observer.ObserveReminder(e)
	}
}

// isNil reports a missing value, which go-redis reports as an error.
func isNil(err error) bool { return errors.Is(err, redis.Nil) }

// checkClient refuses a client the Redis backend cannot use (see
// NewRedisScheduler): nil, a nil pointer in the interface (it would panic
// at the first call), and a *redis.Ring.
func checkClient(fn string, c redis.UniversalClient) error {
	if isNilValue(c) {
		return fmt.Errorf("%w: %s: nil client", ErrInvalid, fn)
	}
	if _, ok := c.(*redis.Ring); ok {
		return fmt.Errorf("%w: %s: a *redis.Ring moves a down node's keys to another node and back, "+
			"which loses what was written meanwhile; use a *redis.Client or a *redis.ClusterClient", ErrInvalid, fn)
	}
	return nil
}
