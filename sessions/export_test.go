package sessions

import "time"

// MemoryKeys lists a memory store's entries, each with its remaining time
// by the store's clock, for the conformance suite's leak checks. An entry
// missing from the expiry heap, an empty user left behind, or a heap that
// holds more than the maps is reported with TTL 0: never purged.
func MemoryKeys(m *MemoryStore) map[string]time.Duration {
	m.mu.RLock()
	defer m.mu.RUnlock()
	now := m.now()
	out := map[string]time.Duration{}
	entries := 0
	for uid, u := range m.users {
		if len(u.sessions) == 0 && len(u.tombs) == 0 {
			out["user:"+uid] = 0
		}
		for kind, byID := range map[string]map[string]*memEntry{"session:": u.sessions, "tombstone:": u.tombs} {
			for id, e := range byID {
				ttl := time.UnixMilli(e.exp).Sub(now)
				if e.index < 0 || e.index >= len(m.expiry) || m.expiry[e.index] != e {
					ttl = 0
				}
				out[kind+uid+"/"+id] = ttl
				entries++
			}
		}
	}
	if entries != len(m.expiry) {
		out["heap holds entries the maps do not"] = 0
	}
	return out
}

// SessionKey is the Redis key of session (userID, id) under prefix.
func SessionKey(prefix, userID, id string) string { return keyspace{prefix}.session(userID, id) }

// IndexKey is the Redis key of userID's index under prefix.
func IndexKey(prefix, userID string) string { return keyspace{prefix}.index(userID) }

// TombstoneKey is the Redis key of the tombstone of a rotated or revoked
// session.
func TombstoneKey(prefix, userID, id string) string { return keyspace{prefix}.tombstone(userID, id) }
