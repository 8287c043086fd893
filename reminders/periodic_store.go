package reminders

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// TickStore remembers, per recurring reminder, the latest tick an instance
// claimed and the latest tick whose reminder is stored. Periodic uses it so
// that, of N instances firing the same tick, one schedules the reminder
// (even if the reminder is delivered before a slower instance fires: the
// upsert alone would then store it again), so that a claimer that died
// before scheduling is covered by a peer, and so that Start can catch up
// on ticks missed while every instance was down.
//
// Both marks only move forward. Implementations are safe for concurrent
// use; errors wrap ErrUnavailable.
type TickStore interface {
	// Claim moves name's claimed mark to tick and reports whether this
	// call moved it: true means the caller must schedule tick's reminder;
	// false means another caller claimed this tick or a later one.
	Claim(ctx context.Context, name string, tick time.Time) (bool, error)
	// Done moves name's done mark to tick: tick's reminder is stored.
	Done(ctx context.Context, name string, tick time.Time) error
	// Marks returns name's claimed and done marks; zero when never set.
	Marks(ctx context.Context, name string) (claimed, done time.Time, err error)
}

// MemoryTickStore is a TickStore in process memory: for one instance, the
// eager scheduler, and tests. Instances sharing a Redis should share a
// RedisTickStore instead. The zero value is not usable; call
// NewMemoryTickStore.
type MemoryTickStore struct {
	mu    sync.Mutex
	marks map[string][2]int64 // name → claimed, done (Unix ms)
}

var _ TickStore = (*MemoryTickStore)(nil)

// NewMemoryTickStore returns an empty MemoryTickStore.
func NewMemoryTickStore() *MemoryTickStore {
	return &MemoryTickStore{marks: make(map[string][2]int64)}
}

// Claim implements TickStore.
func (m *MemoryTickStore) Claim(_ context.Context, name string, tick time.Time) (bool, error) {
	return m.raise(name, 0, tick.UnixMilli()), nil
}

// Done implements TickStore.
func (m *MemoryTickStore) Done(_ context.Context, name string, tick time.Time) error {
	m.raise(name, 1, tick.UnixMilli())
	return nil
}

func (m *MemoryTickStore) raise(name string, i int, ms int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.marks[name]
	if ok && v[i] >= ms {
		return false
	}
	v[i] = ms
	m.marks[name] = v
	return true
}

// Marks implements TickStore.
func (m *MemoryTickStore) Marks(_ context.Context, name string) (claimed, done time.Time, err error) {
	m.mu.Lock()
	v, ok := m.marks[name]
	m.mu.Unlock()
	if !ok {
		return time.Time{}, time.Time{}, nil
	}
	return fromMillis(v[0]), fromMillis(v[1]), nil
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// RedisTickStore is a TickStore in Redis, shared by every instance: one
// sorted set per recurring reminder, "<prefix>:periodic:<name>", with two
// members, "claimed" and "done", scored by tick time in Unix ms. Each
// operation is one command on one key (ZADD GT moves a mark only forward,
// atomically), so it works on Redis Cluster; it needs Redis 6.2 or newer.
// The prefix holds no ':', so these keys never meet the scheduler's
// ("{<prefix>:<shard>}:..."). Safe for concurrent use. The zero value is
// not usable; call NewRedisTickStore.
//
// go-redis sends a command again when it lost the reply: a Claim whose
// ZADD ran twice so reports false to the caller that moved the mark. No
// tick is lost: every claimer that lost a tick stores it after the grace
// period if it is still not done (see Periodic), so it comes late.
type RedisTickStore struct {
	client redis.UniversalClient
	prefix string
}

var _ TickStore = (*RedisTickStore)(nil)

// NewRedisTickStore returns a TickStore on client. It reads WithKeyPrefix
// from opts (default "reminders"; give it the scheduler's) and ignores the
// other options. The client is the caller's; nothing here closes it. It
// returns an error wrapping ErrInvalid for a nil client (a typed nil
// included), a *redis.Ring (see NewRedisScheduler) or an invalid option.
func NewRedisTickStore(client redis.UniversalClient, opts ...Option) (*RedisTickStore, error) {
	if err := checkClient("NewRedisTickStore", client); err != nil {
		return nil, err
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	return &RedisTickStore{client: client, prefix: o.prefix}, nil
}

func (r *RedisTickStore) key(name string) string { return r.prefix + ":periodic:" + name }

// Claim implements TickStore.
func (r *RedisTickStore) Claim(ctx context.Context, name string, tick time.Time) (bool, error) {
	changed, err := r.client.ZAddArgs(ctx, r.key(name), redis.ZAddArgs{
		GT: true, Ch: true, Members: []redis.Z{{Score: float64(tick.UnixMilli()), Member: "claimed"}},
	}).Result()
	if err != nil {
		return false, r.unavailable("claim", name, err)
	}
	return changed == 1, nil
}

// Done implements TickStore.
func (r *RedisTickStore) Done(ctx context.Context, name string, tick time.Time) error {
	err := r.client.ZAddArgs(ctx, r.key(name), redis.ZAddArgs{
		GT: true, Members: []redis.Z{{Score: float64(tick.UnixMilli()), Member: "done"}},
	}).Err()
	return r.unavailable("done", name, err)
}

// Marks implements TickStore.
func (r *RedisTickStore) Marks(ctx context.Context, name string) (claimed, done time.Time, err error) {
	zs, err := r.client.ZRangeWithScores(ctx, r.key(name), 0, -1).Result()
	if err != nil {
		return time.Time{}, time.Time{}, r.unavailable("marks", name, err)
	}
	for _, z := range zs {
		t := fromMillis(int64(z.Score))
		switch z.Member {
		case "claimed":
			claimed = t
		case "done":
			done = t
		}
	}
	return claimed, done, nil
}

func (r *RedisTickStore) unavailable(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: tick store %s %q: %w", ErrUnavailable, op, name, err)
}
