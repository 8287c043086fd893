package sessions

import (
	"context"
	"maps"
)

// Rotate implements Store. It decides under the store's lock, so of
// concurrent calls for one oldID exactly one finds it active.
func (m *MemoryStore) Rotate(ctx context.Context, userID, oldID string, next Session) (Session, error) {
	now := m.now()
	next, err := prepareNext(userID, oldID, next, now)
	if err != nil {
		return Session{}, err
	}
	if err := ctx.Err(); err != nil {
		return Session{}, m.unavailable(ctx, "Rotate", err)
	}
	m.mu.Lock()
	r := m.rotate(now.UnixMilli(), oldID, next)
	m.mu.Unlock()
	return m.finishRotate(ctx, userID, oldID, r)
}

// rotate is rotate.lua's logic on the memory store. Caller holds mu for
// writing.
func (m *MemoryStore) rotate(now int64, oldID string, next Session) rotation {
	m.purge(now)
	u := m.users[next.UserID]
	if u == nil {
		return rotation{outcome: rotNotActive}
	}
	old := u.sessions[oldID]
	if old == nil {
		t := u.tombs[oldID]
		if t == nil || t.revoked {
			return rotation{outcome: rotNotActive}
		}
		// Grace covers the immediate predecessor only: its successor must
		// still be the current session (purge has dropped expired ones),
		// and still of old's family, not a later session under a reused ID.
		// The window is [rotatedAt-grace, rotatedAt+grace) by this
		// clock, as in rotate.lua: a clock a little behind the rotating
		// one's is within it, one far behind is not. No grace means none.
		if g := m.o.grace.Milliseconds(); g > 0 && now >= t.rotatedAt-g && now < t.rotatedAt+g {
			if s := u.sessions[t.next]; s != nil && s.s.FamilyID == t.family {
				return rotation{outcome: rotGrace, successor: copySession(s.s)}
			}
		}
		return rotation{outcome: rotReuse, revoked: m.revokeFamily(u, t.family), family: t.family}
	}
	if next.FamilyID != "" && next.FamilyID != old.s.FamilyID {
		return rotation{outcome: rotFamilyMismatch}
	}
	if u.sessions[next.ID] != nil || u.tombs[next.ID] != nil {
		return rotation{outcome: rotNextExists}
	}
	next.FamilyID = old.s.FamilyID
	if len(next.Meta) == 0 {
		next.Meta = maps.Clone(old.s.Meta)
	}
	m.put(&memEntry{userID: next.UserID, id: next.ID, exp: next.ExpiresAt.UnixMilli(), s: next})
	m.drop(old)
	m.put(&memEntry{
		userID: next.UserID, id: oldID, exp: old.exp,
		tomb: true, next: next.ID, rotatedAt: now, family: old.s.FamilyID,
	})
	return rotation{outcome: rotRotated, successor: copySession(next)}
}

// revokeFamily revokes the user's sessions of one family, each leaving
// its revocation tombstone, and returns how many there were (all active:
// purge ran first).
func (m *MemoryStore) revokeFamily(u *memUser, family string) int {
	n := 0
	for _, e := range u.sessions {
		if e.s.FamilyID == family {
			m.revoke(e)
			n++
		}
	}
	return n
}
