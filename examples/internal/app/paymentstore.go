package app

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// PaymentStore keeps payments for the day-of job, which may run in another
// process than the one that took the payment: the API stores, a worker
// reads. It stands in for the service's database.
type PaymentStore interface {
	// Add stores a payment.
	Add(ctx context.Context, p PaymentPayload) error
	// DueBetween returns the payments due in [from, to), by due time.
	DueBetween(ctx context.Context, from, to time.Time) ([]PaymentPayload, error)
}

// MemoryPayments is a PaymentStore for a single process. It is safe for
// concurrent use.
type MemoryPayments struct {
	mu   sync.Mutex
	list []PaymentPayload
}

// Add stores p.
func (m *MemoryPayments) Add(_ context.Context, p PaymentPayload) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.list = append(m.list, p)
	return nil
}

// DueBetween returns the payments due in [from, to), by due time.
func (m *MemoryPayments) DueBetween(_ context.Context, from, to time.Time) ([]PaymentPayload, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []PaymentPayload
	for _, p := range m.list {
		if !p.DueAt.Before(from) && p.DueAt.Before(to) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DueAt.Before(out[j].DueAt) })
	return out, nil
}

// RedisPayments is a PaymentStore in one Redis sorted set, scored by due
// time in Unix milliseconds, so that API and worker processes share it.
type RedisPayments struct {
	client redis.UniversalClient
	key    string
}

// NewRedisPayments returns a store under key.
func NewRedisPayments(client redis.UniversalClient, key string) *RedisPayments {
	return &RedisPayments{client: client, key: key}
}

// retention is how long a payment is kept after it fell due: the day-of
// job only looks at today, so older ones are trimmed as new ones arrive.
const retention = 48 * time.Hour

// Add stores p, and trims payments that fell due more than two days ago.
func (r *RedisPayments) Add(ctx context.Context, p PaymentPayload) error {
	member, err := json.Marshal(p)
	if err != nil {
		return err
	}
	old := strconv.FormatInt(time.Now().Add(-retention).UnixMilli(), 10)
	_, err = r.client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.ZAdd(ctx, r.key, redis.Z{Score: float64(p.DueAt.UnixMilli()), Member: member})
		pipe.ZRemRangeByScore(ctx, r.key, "-inf", "("+old)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store payment: %w", err)
	}
	return nil
}

// DueBetween returns the payments due in [from, to), by due time. An entry
// that does not decode is skipped.
func (r *RedisPayments) DueBetween(ctx context.Context, from, to time.Time) ([]PaymentPayload, error) {
	members, err := r.client.ZRangeByScore(ctx, r.key, &redis.ZRangeBy{
		Min: strconv.FormatInt(from.UnixMilli(), 10),
		Max: "(" + strconv.FormatInt(to.UnixMilli(), 10),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	out := make([]PaymentPayload, 0, len(members))
	for _, m := range members {
		var p PaymentPayload
		if json.Unmarshal([]byte(m), &p) == nil {
			out = append(out, p)
		}
	}
	return out, nil
}
