package sessions

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// Rotate implements Store with one script (scripts/rotate.lua), so that
// the checks that old is active and not yet rotated, the successor's
// creation and old's tombstone happen atomically: of concurrent calls on
// any number of instances exactly one finds old active.
func (s *RedisStore) Rotate(ctx context.Context, userID, oldID string, next Session) (Session, error) {
	now := s.now()
	next, err := prepareNext(userID, oldID, next, now)
	if err != nil {
		return Session{}, err
	}
	head, tail := encodeParts(next)
	keys := []string{
		s.keys.index(userID),
		s.keys.session(userID, oldID), s.keys.tombstone(userID, oldID),
		s.keys.session(userID, next.ID), s.keys.tombstone(userID, next.ID),
	}
	reply, err := s.scripts.rotate.Run(ctx, s.client, keys,
		now.UnixMilli(), userID, member(oldID), member(next.ID), head, tail,
		next.ExpiresAt.UnixMilli(), s.o.grace.Milliseconds(), next.FamilyID, callNonce(),
		inheritMeta(next)).Slice()
	if err != nil {
		return Session{}, s.unavailable(ctx, "Rotate", err)
	}
	r, ok := parseRotation(reply, next, userID, now)
	if !ok {
		return Session{}, s.unavailable(ctx, "Rotate", fmt.Errorf("unexpected script reply %q", reply))
	}
	return s.finishRotate(ctx, userID, oldID, r)
}

// inheritMeta is rotate.lua's ARGV[11]: "1" when next has no Meta of its
// own, so that the successor takes the old session's.
func inheritMeta(next Session) string {
	if len(next.Meta) == 0 {
		return "1"
	}
	return "0"
}

// callNonce names one Rotate call to rotate.lua, which keeps it in the
// tombstone: when go-redis sends the script again after losing its reply,
// the second run finds its own call's tombstone and answers as the first
// run did, instead of seeing reuse. 128 random bits: calls never share one.
func callNonce() string {
	var b [27]byte
	out := strconv.AppendUint(b[:0], rand.Uint64(), 36)
	out = append(out, '.')
	return string(strconv.AppendUint(out, rand.Uint64(), 36))
}

// parseRotation reads rotate.lua's reply. ok is false for a reply the
// script cannot give.
func parseRotation(reply []any, next Session, userID string, now time.Time) (r rotation, ok bool) {
	str := func(i int) string {
		if i < len(reply) {
			s, _ := reply[i].(string)
			return s
		}
		return ""
	}
	r.outcome = str(0)
	switch r.outcome {
	case rotRotated:
		next.FamilyID = str(1)
		if meta := str(2); len(next.Meta) == 0 && meta != "" {
			// The successor's, as stored (the old session's, carried over):
			// the script has checked it.
			if json.Unmarshal([]byte(meta), &next.Meta) != nil {
				return r, false
			}
		}
		r.successor = next
	case rotGrace:
		// The script has checked the successor; one that still does not
		// decode here is treated as not active.
		id, ok := unescape(str(1))
		if !ok {
			return rotation{outcome: rotCorrupt}, true
		}
		s, err := decodeValue(str(2), userID, id)
		if err != nil || !now.Before(s.ExpiresAt) {
			return rotation{outcome: rotCorrupt}, true
		}
		r.successor = s
	case rotReuse:
		if len(reply) != 3 {
			return r, false
		}
		n, isInt := reply[1].(int64)
		if !isInt {
			return r, false
		}
		r.revoked, r.family = int(n), str(2)
	case rotNotActive, rotCorrupt, rotFamilyMismatch, rotNextExists:
	default:
		return r, false
	}
	return r, true
}
