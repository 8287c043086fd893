package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// slowlogConfig is the server's SLOWLOG setting, saved to be restored: the
// benchmark lowers the threshold while it runs so that the longest command
// of a drain is logged even when it is well under Redis's default 10 ms.
type slowlogConfig struct {
	slowerThan string // slowlog-log-slower-than, microseconds
	maxLen     string // slowlog-max-len, entries
}

// lowerSlowlog logs every command that runs for threshold or longer and
// keeps up to maxLen entries. It returns the previous setting.
func lowerSlowlog(ctx context.Context, c *client, threshold time.Duration, maxLen int) (slowlogConfig, error) {
	var old slowlogConfig
	for name, dst := range map[string]*string{"slowlog-log-slower-than": &old.slowerThan, "slowlog-max-len": &old.maxLen} {
		m, err := c.ConfigGet(ctx, name).Result()
		if err != nil {
			return old, fmt.Errorf("CONFIG GET %s: %w", name, err)
		}
		*dst = m[name]
	}
	us := strconv.FormatInt(threshold.Microseconds(), 10)
	if err := c.ConfigSet(ctx, "slowlog-log-slower-than", us).Err(); err != nil {
		return old, fmt.Errorf("CONFIG SET slowlog-log-slower-than: %w", err)
	}
	if err := c.ConfigSet(ctx, "slowlog-max-len", strconv.Itoa(maxLen)).Err(); err != nil {
		return old, fmt.Errorf("CONFIG SET slowlog-max-len: %w", err)
	}
	return old, nil
}

// restore puts the saved setting back.
func (s slowlogConfig) restore(ctx context.Context, c *client) error {
	if s.slowerThan != "" {
		if err := c.ConfigSet(ctx, "slowlog-log-slower-than", s.slowerThan).Err(); err != nil {
			return err
		}
	}
	if s.maxLen != "" {
		return c.ConfigSet(ctx, "slowlog-max-len", s.maxLen).Err()
	}
	return nil
}

// slowest is the longest SLOWLOG entry of one phase.
type slowest struct {
	// Micros is the command's execution time in microseconds (0: no
	// command reached the threshold).
	Micros int64 `json:"us"`
	// Command is the command name and its first argument (a script's SHA
	// or a key), for finding it.
	Command string `json:"command,omitempty"`
	// Logged counts the phase's commands at or over the threshold.
	Logged int `json:"logged"`
	// Missed is set when entries may have rotated out of the log between
	// two polls, so the maximum may be higher than reported.
	Missed bool `json:"missed,omitempty"`
}

// slowWatch follows SLOWLOG during a phase, keeping the longest entry made
// by connections named name. SLOWLOG is server-wide; the name (CLIENT
// SETNAME) keeps other clients of a shared server out of the figure.
type slowWatch struct {
	admin  *client
	name   string
	maxLen int
	fetch  int // entries the next poll asks for first
	lastID int64
	best   slowest
}

// minFetch is the fewest entries a poll asks for. SLOWLOG GET costs Redis
// time in proportion to what it returns (about 20ms for 4096 entries of
// script calls on a 2-core host), time the system under test then lacks,
// so a poll asks for about twice what the last one found new, not for the
// whole log.
const minFetch = 128

// newSlowWatch starts watching: entries already in the log are ignored.
func newSlowWatch(ctx context.Context, admin *client, name string, maxLen int) (*slowWatch, error) {
	w := &slowWatch{admin: admin, name: name, maxLen: maxLen, fetch: min(minFetch, maxLen), lastID: -1}
	entries, err := admin.SlowLogGet(ctx, 1).Result()
	if err != nil {
		return nil, fmt.Errorf("SLOWLOG GET: %w", err)
	}
	if len(entries) > 0 {
		w.lastID = entries[0].ID
	}
	return w, nil
}

// poll reads the entries logged since the last poll: it asks for
// w.fetch entries, and for twice as many while the oldest returned is
// still new (up to the whole log).
func (w *slowWatch) poll(ctx context.Context) error {
	n := w.fetch
	var entries []redis.SlowLog
	for {
		var err error
		if entries, err = w.admin.SlowLogGet(ctx, int64(n)).Result(); err != nil {
			return fmt.Errorf("SLOWLOG GET: %w", err)
		}
		// Newest first: all new entries are here once the oldest returned
		// is one already seen, or the log holds no more.
		if len(entries) < n || entries[len(entries)-1].ID <= w.lastID || n == w.maxLen {
			break
		}
		n = min(2*n, w.maxLen)
	}
	// If the whole log is new and its oldest entry is not the one right
	// after the last seen, some rotated out unseen.
	if k := len(entries); k == w.maxLen && entries[k-1].ID > w.lastID+1 {
		w.best.Missed = true
	}
	top, fresh := w.lastID, 0
	defer func() { w.fetch = min(max(2*fresh, minFetch), w.maxLen) }()
	for _, e := range entries {
		if e.ID <= w.lastID {
			break
		}
		fresh++
		top = max(top, e.ID)
		if e.ClientName != w.name {
			continue
		}
		w.best.Logged++
		if us := e.Duration.Microseconds(); us > w.best.Micros {
			w.best.Micros = us
			w.best.Command = strings.Join(e.Args[:min(len(e.Args), 2)], " ")
		}
	}
	w.lastID = top
	return nil
}

// every polls each period until ctx ends, then once more, and returns the
// first error.
func (w *slowWatch) every(ctx context.Context, period time.Duration) error {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return w.poll(pctx)
		case <-t.C:
			if err := w.poll(ctx); err != nil && ctx.Err() == nil {
				return err
			}
		}
	}
}
