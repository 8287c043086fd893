package reminders

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// purgeBatch bounds the dead reminders one PurgeDead script call deletes.
const purgeBatch = 500

// DeleteDead deletes the dead reminder id for good: its dead-letter entry,
// its record and its last error. It returns an error wrapping ErrNotFound
// when id is not in the dead set (a pending or in-flight reminder is not
// dead: Cancel it), ErrInvalid for a malformed ID, and ErrUnavailable
// when Redis fails or ctx ends first. Run twice by go-redis after a lost
// reply (see the package doc), it reports ErrNotFound for a reminder the
// first run deleted.
func (s *RedisScheduler) DeleteDead(ctx context.Context, id string) error {
	if err := validName("ID", id); err != nil {
		return err
	}
	sh := shardOf(id, len(s.keys))
	n, err := scriptDelete.Run(ctx, s.client, s.keys[sh].all(), "ids", id).Int()
	if err != nil {
		return unavailable(err)
	}
	if n == 0 {
		return fmt.Errorf("%w: no dead reminder %q", ErrNotFound, id)
	}
	s.opts.logger.LogAttrs(ctx, slog.LevelInfo, "reminders: dead reminder deleted", slog.String("reminder_id", id))
	return nil
}

// PurgeDead deletes for good every dead reminder that died before
// diedBefore, by DeadReminder.DiedAt (Redis server time as the worker that
// buried it read it, never later than Redis's own TIME), and
// returns how many it deleted: a retention policy for the dead set, which
// nothing else trims, to run now and then. It deletes shard by shard, at
// most 500 reminders a script call, so Redis is never blocked for long.
// It returns an error wrapping ErrUnavailable when Redis fails or ctx ends
// first, with the count deleted until then; calling it again is safe. Any
// time is accepted: one after year 287,000 deletes every dead reminder.
func (s *RedisScheduler) PurgeDead(ctx context.Context, diedBefore time.Time) (int, error) {
	total := 0
	for sh := range s.keys {
		for {
			n, err := scriptDelete.Run(ctx, s.client, s.keys[sh].all(),
				"before", cutMillis(diedBefore), purgeBatch).Int()
			if err != nil {
				return total, unavailable(err)
			}
			total += n
			if n < purgeBatch {
				break
			}
		}
	}
	if total > 0 {
		s.opts.logger.LogAttrs(ctx, slog.LevelInfo, "reminders: dead reminders purged",
			slog.Int("reminders", total), slog.Time("died_before", diedBefore))
	}
	return total, nil
}

// cutMillis is diedBefore in Unix ms, rounded up as dueMillis rounds: the
// script deletes what died before it (exclusive), and a DiedAt in
// diedBefore's millisecond but before it died before it. A time out of
// dueInRange is clamped to its end, which every DiedAt is within: a cut
// past year 287,000 deletes every dead reminder, one before -287,000 none,
// where Unix ms would wrap for times past year 292 million.
func cutMillis(t time.Time) int64 {
	switch {
	case dueInRange(t):
		return dueMillis(t)
	case t.Unix() > 0:
		return maxDueMillis
	default:
		return -maxDueMillis
	}
}
