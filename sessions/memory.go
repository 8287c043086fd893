package sessions

import (
	"container/heap"
	"context"
	"maps"
	"sync"
)

// MemoryStore is a Store in this process's memory, for development, tests
// and single-instance services: it has the Redis store's semantics (the
// same conformance suite runs on both) but instances do not share state.
//
// Expiry is exact by the store's clock (WithClock) and needs no goroutine:
// reads compare expiries, and every write first purges what has expired,
// so memory stays proportional to live sessions and tombstones. The
// context only matters before a call starts: one that has ended gives
// ErrUnavailable, as it would on Redis.
//
// A MemoryStore is safe for concurrent use. The zero value is not usable;
// call NewMemoryStore.
type MemoryStore struct {
	core
	mu     sync.RWMutex
	users  map[string]*memUser
	expiry expiryHeap
}

// memUser is one user's sessions and tombstones, by ID.
type memUser struct {
	sessions map[string]*memEntry
	tombs    map[string]*memEntry
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store. It returns an error wrapping
// ErrInvalid for a bad option.
func NewMemoryStore(opts ...Option) (*MemoryStore, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	return &MemoryStore{core: core{o: o}, users: make(map[string]*memUser)}, nil
}

// Remember implements Store.
func (m *MemoryStore) Remember(ctx context.Context, s Session) error {
	now := m.now()
	s, err := prepare(s, now, "")
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return m.unavailable(ctx, "Remember", err)
	}
	m.mu.Lock()
	m.purge(now.UnixMilli())
	// A tombstone makes the ID spent until its session's expiry (purge has
	// dropped those over by this clock); see remember.lua.
	if u := m.users[s.UserID]; u != nil && u.tombs[s.ID] != nil {
		revoked := u.tombs[s.ID].revoked
		m.mu.Unlock()
		if revoked {
			return errRevokedID
		}
		return errSpent
	}
	m.put(&memEntry{userID: s.UserID, id: s.ID, exp: s.ExpiresAt.UnixMilli(), s: s})
	evicted := m.evict(s.UserID, s.ID)
	m.mu.Unlock()
	m.observe(EventRemembered, 0)
	m.evicted(ctx, s.UserID, evicted)
	return nil
}

// IsActive implements Store.
func (m *MemoryStore) IsActive(ctx context.Context, userID, id string) (bool, error) {
	if err := checkID("userID", userID); err != nil {
		return false, err
	}
	if err := checkID("id", id); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, m.unavailable(ctx, "IsActive", err)
	}
	now := m.now().UnixMilli()
	m.mu.RLock()
	defer m.mu.RUnlock()
	e := m.session(userID, id)
	return e != nil && now < e.exp, nil
}

// Revoke implements Store.
func (m *MemoryStore) Revoke(ctx context.Context, userID, id string) error {
	if err := checkID("userID", userID); err != nil {
		return err
	}
	if err := checkID("id", id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return m.unavailable(ctx, "Revoke", err)
	}
	n := 0
	m.mu.Lock()
	m.purge(m.now().UnixMilli())
	if e := m.session(userID, id); e != nil {
		m.revoke(e)
		n = 1
	} else if u := m.users[userID]; u != nil && u.tombs[id] != nil && !u.tombs[id].revoked {
		// A rotated ID: its family goes (revoke.lua says why). purge has
		// dropped the tombstones over by this clock.
		n = m.revokeFamily(u, u.tombs[id].family)
	}
	m.mu.Unlock()
	m.observe(EventRevoked, n)
	return nil
}

// RevokeAllForUser implements Store.
func (m *MemoryStore) RevokeAllForUser(ctx context.Context, userID string) (int, error) {
	if err := checkID("userID", userID); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, m.unavailable(ctx, "RevokeAllForUser", err)
	}
	n := 0
	m.mu.Lock()
	m.purge(m.now().UnixMilli())
	if u := m.users[userID]; u != nil {
		for _, e := range u.sessions {
			m.revoke(e)
			n++
		}
	}
	m.mu.Unlock()
	m.observe(EventRevokedAll, n)
	return n, nil
}

// ListForUser implements Store.
func (m *MemoryStore) ListForUser(ctx context.Context, userID string) ([]Session, error) {
	if err := checkID("userID", userID); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, m.unavailable(ctx, "ListForUser", err)
	}
	now := m.now().UnixMilli()
	m.mu.RLock()
	var out []Session
	if u := m.users[userID]; u != nil {
		out = make([]Session, 0, len(u.sessions))
		for _, e := range u.sessions {
			if now < e.exp {
				out = append(out, copySession(e.s))
			}
		}
	}
	m.mu.RUnlock()
	if out == nil {
		out = []Session{}
	}
	sortSessions(out)
	return out, nil
}

func copySession(s Session) Session {
	s.Meta = maps.Clone(s.Meta)
	return s
}

// session returns the user's session entry id, or nil. Caller holds mu.
func (m *MemoryStore) session(userID, id string) *memEntry {
	if u := m.users[userID]; u != nil {
		return u.sessions[id]
	}
	return nil
}

// put stores e, replacing the entry of the same kind and ID. Caller holds
// mu for writing.
func (m *MemoryStore) put(e *memEntry) {
	u := m.users[e.userID]
	if u == nil {
		u = &memUser{sessions: make(map[string]*memEntry), tombs: make(map[string]*memEntry)}
		m.users[e.userID] = u
	}
	byID := u.sessions
	if e.tomb {
		byID = u.tombs
	}
	if prev := byID[e.id]; prev != nil {
		heap.Remove(&m.expiry, prev.index)
	}
	byID[e.id] = e
	heap.Push(&m.expiry, e)
}

// revoke deletes session e, active (purge ran first), and leaves its
// revocation tombstone until its expiry: the ID is spent, as in
// revoke.lua. The tombstone goes in first, so that the user's entry
// stays while callers walk its sessions. Caller holds mu for writing.
func (m *MemoryStore) revoke(e *memEntry) {
	m.put(&memEntry{userID: e.userID, id: e.id, exp: e.exp, tomb: true, revoked: true})
	m.drop(e)
}

// drop deletes e. Caller holds mu for writing.
func (m *MemoryStore) drop(e *memEntry) {
	heap.Remove(&m.expiry, e.index)
	m.unlink(e)
}

// unlink removes e (already out of the heap) from its user's maps, and the
// user when nothing is left.
func (m *MemoryStore) unlink(e *memEntry) {
	u := m.users[e.userID]
	if u == nil {
		return
	}
	byID := u.sessions
	if e.tomb {
		byID = u.tombs
	}
	if byID[e.id] == e {
		delete(byID, e.id)
	}
	if len(u.sessions) == 0 && len(u.tombs) == 0 {
		delete(m.users, e.userID)
	}
}

// purge deletes every entry that expired at or before now. Caller holds mu
// for writing.
func (m *MemoryStore) purge(now int64) {
	for len(m.expiry) > 0 && m.expiry[0].exp <= now {
		m.unlink(heap.Pop(&m.expiry).(*memEntry))
	}
}

// evict drops the user's sessions that expire first, other than keep,
// until the user is within the limit, and returns how many it dropped.
// Ties go by the escaped ID (member), as in the Redis index, whose members
// it orders: escaping does not keep byte order (':' becomes "%3A", which
// sorts before '9'). Caller holds mu for writing.
func (m *MemoryStore) evict(userID, keep string) int {
	u := m.users[userID]
	n := 0
	for u != nil && len(u.sessions) > m.o.maxPerUser {
		var first *memEntry
		for id, e := range u.sessions {
			if id != keep && (first == nil || e.exp < first.exp || e.exp == first.exp && member(id) < member(first.id)) {
				first = e
			}
		}
		m.drop(first)
		n++
	}
	return n
}
