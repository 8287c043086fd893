package reminders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// State is where a stored reminder is in its life.
type State string

// States of a stored reminder.
const (
	// StatePending: scheduled and not claimed: waiting for its DueAt, or
	// for the end of a retry's backoff.
	StatePending State = "pending"
	// StateInFlight: claimed by a worker that holds its lease.
	StateInFlight State = "in-flight"
	// StateDead: in the dead-letter set, until Requeue or Schedule.
	StateDead State = "dead"
)

// Info is the stored state of one reminder, as Get returns it.
type Info struct {
	Reminder
	// State is where the reminder is: pending, in flight or dead.
	State State
	// Attempt is the attempt that runs (in flight) or comes next (pending),
	// from 1; for a dead reminder, the last attempt made.
	Attempt int
	// At is, by state, when the reminder is next due (pending: its DueAt,
	// or the end of a retry's backoff), when its lease ends (in flight), or
	// when it died (dead); Redis server time, UTC.
	At time.Time
	// LastError is the last failed attempt's error text (cut to 1 KiB), or
	// why it was dead-lettered without one ("corrupt", "lease expired");
	// empty when no attempt has failed since it was scheduled.
	LastError string
}

// Get returns the stored state of the reminder id. It returns an error
// wrapping ErrNotFound when no reminder has that ID (never scheduled,
// acknowledged or cancelled), ErrInvalid for a malformed ID or a stored
// record that cannot be decoded, and ErrUnavailable when Redis fails or
// ctx ends first.
func (s *RedisScheduler) Get(ctx context.Context, id string) (Info, error) {
	if err := validName("ID", id); err != nil {
		return Info{}, err
	}
	sh := shardOf(id, len(s.keys))
	res, err := scriptGet.Run(ctx, s.client, s.keys[sh].all(), id).Slice()
	if err != nil {
		return Info{}, unavailable(err)
	}
	if len(res) != 5 {
		return Info{}, unavailable(fmt.Errorf("get: unexpected reply %v", res))
	}
	raw, _ := res[0].(string)
	info := Info{LastError: str(res[4])}
	switch {
	case res[2] != nil:
		info.State, info.At = StateInFlight, scoreTime(res[2])
	case res[1] != nil:
		info.State, info.At = StatePending, scoreTime(res[1])
	case res[3] != nil:
		info.State, info.At = StateDead, scoreTime(res[3])
	default:
		return Info{}, fmt.Errorf("%w: reminder %q", ErrNotFound, id)
	}
	rec, err := parseRecord(raw)
	if err != nil {
		return info, fmt.Errorf("%w: reminder %q: stored record is corrupt", ErrInvalid, id)
	}
	info.Reminder, info.Attempt = rec.reminder(id), rec.attempt
	return info, nil
}

// Stats counts the reminders of every shard: pending, in flight and dead.
// It reads all shards in one pipeline, one script call each (a shard's
// counts are one snapshot; the counts of different shards are not). A
// shard's call reads one count per due bucket that holds reminders, up to
// 1021: well under a millisecond of Redis's time.
func (s *RedisScheduler) Stats(ctx context.Context) (Stats, error) {
	calls := make([]*scriptCall, len(s.keys))
	for i, k := range s.keys {
		calls[i] = &scriptCall{script: scriptStats, keys: k.all()}
	}
	if err := runPipelined(ctx, s.client, calls); err != nil {
		return Stats{}, err
	}
	st := Stats{Shards: make([]ShardStats, len(s.keys))}
	for i, c := range calls {
		n, err := c.cmd.Int64Slice()
		if err != nil || len(n) != 3 {
			return Stats{}, unavailable(fmt.Errorf("stats: unexpected reply %v", c.cmd.Val()))
		}
		sh := ShardStats{Shard: i, Pending: n[0], InFlight: n[1], Dead: n[2]}
		st.Shards[i] = sh
		st.Pending += sh.Pending
		st.InFlight += sh.InFlight
		st.Dead += sh.Dead
	}
	return st, nil
}

// maxDeadList bounds Dead's limit.
const maxDeadList = 10000

// deadBatch and deadBytes bound one dead script call: IDs read, and record
// bytes (a call stops after the record that reaches it).
const (
	deadBatch = 100
	deadBytes = 1 << 20
)

// Dead lists up to limit (1..10000) dead reminders, oldest death first,
// over all shards. A record that cannot be decoded is listed with its ID,
// LastError and DiedAt only. It returns an error wrapping ErrInvalid for a
// limit out of range and ErrUnavailable when Redis fails or ctx ends first.
//
// It reads the oldest IDs of each shard (up to limit per shard, IDs and
// times only), keeps the oldest limit of them all, then reads their records
// in script calls of at most 100 reminders and about 1 MiB each, so that
// large payloads never make one call long; a round trip carries one call
// per shard. It is not one snapshot: a reminder requeued or rescheduled
// meanwhile is left out.
func (s *RedisScheduler) Dead(ctx context.Context, limit int) ([]DeadReminder, error) {
	if limit < 1 || limit > maxDeadList {
		return nil, fmt.Errorf("%w: Dead: limit %d, want 1..%d", ErrInvalid, limit, maxDeadList)
	}
	ids, err := s.oldestDead(ctx, limit)
	if err != nil {
		return nil, err
	}
	var out []DeadReminder
	for len(ids) > 0 {
		var calls []*scriptCall
		var shards []int // shards[i] is the shard of calls[i]
		for sh, list := range ids {
			args := []any{deadBytes}
			for _, id := range list[:min(len(list), deadBatch)] {
				args = append(args, id)
			}
			calls = append(calls, &scriptCall{script: scriptDead, keys: s.keys[sh].all(), args: args})
			shards = append(shards, sh)
		}
		if err := runPipelined(ctx, s.client, calls); err != nil {
			return nil, err
		}
		for i, sc := range calls {
			sh := shards[i]
			res, _ := sc.cmd.Slice()
			read := 0
			for j := 0; j+3 < len(res); j += 4 {
				read++
				if res[j+1] == nil {
					continue // no longer dead
				}
				id := str(res[j])
				d := DeadReminder{LastError: str(res[j+3]), DiedAt: scoreTime(res[j+1])}
				if rec, err := parseRecord(str(res[j+2])); err == nil {
					d.Reminder, d.Attempts = rec.reminder(id), rec.attempt
				} else {
					d.ID = id
				}
				out = append(out, d)
			}
			if read == 0 { // a reply without rows: never loop on it
				return nil, unavailable(fmt.Errorf("dead: unexpected reply %v", res))
			}
			if ids[sh] = ids[sh][min(read, len(ids[sh])):]; len(ids[sh]) == 0 {
				delete(ids, sh)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].DiedAt.Before(out[j].DiedAt) })
	return out, nil
}

// oldestDead returns the IDs of the oldest limit dead reminders over all
// shards, by shard: one ZRANGE per shard, in one pipeline.
func (s *RedisScheduler) oldestDead(ctx context.Context, limit int) (map[int][]string, error) {
	pipe := s.client.Pipeline()
	cmds := make([]*redis.ZSliceCmd, len(s.keys))
	for i, k := range s.keys {
		cmds[i] = pipe.ZRangeWithScores(ctx, k.dead, 0, int64(limit-1))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, unavailable(err)
	}
	type entry struct {
		shard int
		z     redis.Z
	}
	var all []entry
	for sh, c := range cmds {
		for _, z := range c.Val() {
			all = append(all, entry{sh, z})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].z.Score < all[j].z.Score })
	ids := make(map[int][]string)
	for _, e := range all[:min(len(all), limit)] {
		ids[e.shard] = append(ids[e.shard], str(e.z.Member))
	}
	return ids, nil
}

// requeueReads bounds how often Requeue reads a record that keeps changing
// between its read and its script.
const requeueReads = 3

// Requeue moves a dead reminder back to pending with attempt 1 and no
// last error. It keeps its DueAt, which has passed, so it is due at once.
// It returns an error wrapping ErrNotFound when the ID is not in the dead
// set, ErrInvalid for a malformed ID or a record that cannot be decoded (it
// stays dead: schedule the reminder again instead), and ErrUnavailable when
// Redis fails or ctx ends first.
func (s *RedisScheduler) Requeue(ctx context.Context, id string) error {
	if err := validName("ID", id); err != nil {
		return err
	}
	sh := shardOf(id, len(s.keys))
	// The record is checked here first, by parseRecord, which is stricter
	// than the scripts' parse; the script requeues it only if it is still
	// that record. A record rewritten in between is read again.
	var raw string
	for range requeueReads {
		checked, err := s.client.HGet(ctx, s.keys[sh].rec, id).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return unavailable(err)
		}
		version := ""
		if rec, err := parseRecord(checked); err == nil {
			version = rec.version
		}
		res, err := scriptRequeue.Run(ctx, s.client, s.keys[sh].all(), s.wake, sh, id, version).Result()
		if err != nil {
			return unavailable(err)
		}
		if r, ok := res.(string); ok {
			raw = r
			break
		}
		switch n, _ := res.(int64); n {
		case -1:
			return fmt.Errorf("%w: dead reminder %q: stored record is corrupt", ErrInvalid, id)
		case -2:
			continue
		}
		return fmt.Errorf("%w: no dead reminder %q", ErrNotFound, id)
	}
	if raw == "" {
		return unavailable(fmt.Errorf("dead reminder %q changed under %d reads", id, requeueReads))
	}
	rec, _ := parseRecord(raw)
	s.observe(Event{Type: EventScheduled, ID: id, Kind: rec.kind, Attempt: 1, Shard: sh})
	s.opts.logger.LogAttrs(ctx, slog.LevelInfo, "reminders: requeued",
		slog.String("task_name", rec.kind), slog.String("reminder_id", id), slog.Int("attempt", 1))
	return nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// scoreTime turns a sorted-set score (Unix ms, as Redis formats it) into a
// UTC time; zero if it is not a number.
func scoreTime(v any) time.Time {
	f, err := strconv.ParseFloat(str(v), 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(int64(f)).UTC()
}
