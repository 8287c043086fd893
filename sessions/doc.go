// Package sessions is a server-side store of refresh sessions: one record
// per issued refresh token, keyed by the token's ID (JWT "jti") and its
// user (JWT "sub"), so that logout, "log out everywhere" and refresh token
// rotation take effect on every instance of a service at once.
//
// # Concepts
//
// A [Session] is remembered at login ([Store.Remember]), checked on every
// refresh or request ([Store.IsActive]), and ended by logout
// ([Store.Revoke]; with a rotated ID, the whole login it belongs to) or by
// logging out everywhere ([Store.RevokeAllForUser]).
//
// Refresh token rotation ([Store.Rotate]) spends a session and creates its
// successor in the same family (Session.FamilyID). A spent ID presented
// again is reuse — a replayed, perhaps stolen, token — and revokes the
// whole family (RFC 9700, section 4.14.2): the thief and the victim both
// have to log in again. A short grace ([WithRotationGrace]) lets a client
// that lost the response to its refresh retry with the spent token and get
// the same successor back; only the immediate predecessor of the current
// session gets it, and only within the grace.
//
// # Guarantees
//
// Both backends, [MemoryStore] and [RedisStore], pass the conformance
// suite in package sessionstest, which checks each of these:
//
//   - Fail closed: when the backend fails or the context ends, every method
//     returns an error wrapping [ErrUnavailable], and IsActive returns false,
//     never true. The Redis store recovers by itself when Redis answers.
//   - Exact expiry: a session is inactive from its ExpiresAt on, to the
//     millisecond, by the store's clock ([WithClock]), whatever a key's TTL
//     says. Redis purges keys by TTL; no sweeper runs.
//   - Revoke-all is complete: once RevokeAllForUser returns, no session of
//     the user remembered or rotated before the call is active anywhere.
//   - Revocation holds: a revoked ID is spent until its session's own
//     expiry, so no Remember, however late it reaches the backend, makes
//     it active again.
//   - Rotation is single-use: of any number of concurrent Rotate calls for
//     one ID, on any number of instances, exactly one creates a successor.
//   - No leak: every key expires with what it holds, and an index of a
//     user's sessions is pruned as it is touched.
//   - Bad input is refused with [ErrInvalid] naming the field, and nothing
//     is written. Logs never hold a token ID in clear, only a short hash.
//
// # Redis
//
// All of a user's keys share a Redis Cluster hash tag (the escaped user ID
// in braces), so every operation is one Lua script, atomic and one round
// trip, on a single server or a cluster alike; IsActive is one GET whose
// value is checked in place, allocating nothing beyond the key and the GET
// itself. The layout, for the default prefix "refresh", is
//
//	refresh:{user}                  sorted set of the user's sessions, by expiry
//	refresh:{user}:jti              the session: JSON uid, fam, iat, exp, meta
//	refresh:{user}:rotated:jti      tombstone of a rotated or revoked session
//
// A rotation's tombstone makes reuse of the old ID detectable; a
// revocation's (left by Revoke, RevokeAllForUser and reuse detection for
// every active session they end) keeps a revoked ID from being remembered
// again. Either makes its ID spent: Remember refuses it, and Rotate
// refuses it for a successor. The key keeps the name it had before
// revocations left tombstones, so that the tombstones already stored
// still count. A tombstone lasts until its session would have expired, by
// both the writing store's clock and Redis's (whichever reads earlier), so
// that reuse is told from an unknown ID (RFC 9700 §4.14.2) on an instance
// whose clock agrees with either. Session keys and the index expire at
// their expiry by Redis's clock; see [WithClock] for what clock skew does.
// So a user's keys are its live sessions, plus a tombstone for every
// session rotated or revoked that has not yet expired: with sliding
// expiry, one per refresh over a refresh token's lifetime, and one per
// logout.
//
// Redis must not evict keys (maxmemory-policy noeviction, or no
// maxmemory; every key here has a TTL, so the volatile-* policies evict
// them too). The index and the tombstones are read only by writes, so an
// LRU policy evicts them first, while IsActive keeps the session keys
// warm; then RevokeAllForUser and reuse detection find nothing to revoke
// and the sessions stay active: a revocation that does not hold.
//
// The client must read from masters: a replica may not have applied a
// revoke yet, and IsActive's GET would find the session there. So
// [NewRedisStore] refuses a ClusterClient that reads from replicas
// (ReadOnly, RouteByLatency, RouteRandomly); do not hand it a client
// pointed at a replica either. Writes are scripts, which go to masters.
//
// Give the go-redis client ContextTimeoutEnabled: then a call ends at its
// context's deadline even when Redis stops answering. Without it, go-redis
// still stops at the deadline between attempts (dials and its pauses
// between retries honour the context), but not a read or write on an open
// connection, which only the client's ReadTimeout and WriteTimeout end
// (5s each by default in go-redis v9.22). Against a Redis that accepts
// connections but does not answer (paused, overloaded, a stalled path):
//
//   - a call whose context has a deadline returns up to ReadTimeout after
//     it (measured with the defaults: 5s for a 1s deadline);
//   - a call whose context has no deadline makes up to MaxRetries+1
//     attempts (default 4) of ReadTimeout each, with short pauses between
//     (MinRetryBackoff 10ms, doubling, at most MaxRetryBackoff 1s), while
//     the pool has idle connections to try: about 20s with the defaults
//     (measured: 20s on a warm pool; 5s on a cold one, where go-redis does
//     not retry a connection whose handshake timed out). A ClusterClient
//     makes up to MaxRedirects+1 rounds (default 4) of MaxRetries+1 (by
//     default 1) attempts: also 20s by default.
//
// NewRedisStore logs a WARN with these figures for the client it is given
// when ContextTimeoutEnabled is off. With it on, a context without a
// deadline is still bounded only by the figures above: give every call a
// deadline.
//
// go-redis sends a command again, on a new connection, when it lost the
// reply to it (a connection that dropped, a read that timed out), up to
// MaxRetries times; Redis may then run a script twice for one call, and
// not always in order: the first attempt, held up on the way (a stalled
// path, a proxy), can reach Redis after the retry, and after other calls
// that followed the retry's success. Every script here is safe to run
// twice, in either order. Revoke and RevokeAllForUser do the same thing
// again. Remember stores the same session again, but never one revoked
// in between: Revoke, RevokeAllForUser and reuse detection leave a
// tombstone for every session they end, and Remember refuses its ID
// until that session's own expiry, as it refuses a rotated one (so a
// Remember whose retry comes after a revocation returns an error wrapping
// ErrInvalid, for a session that was stored and is now revoked). Rotate
// recognises its own first run (by a nonce it keeps in the tombstone) and
// returns the successor that run created, rather than taking the token
// for a reused one. Only counts can come out wrong, as what the second run
// found left: Revoke's and RevokeAllForUser's, a reuse's count of
// sessions revoked, and Remember's evictions (then neither logged nor
// observed). A session evicted over [WithMaxSessionsPerUser] leaves no
// tombstone, so a late run of its Remember can store it again (evicting
// another in its place): eviction bounds a user's sessions, it is not a
// logout.
//
// Each user may have at most [WithMaxSessionsPerUser] live sessions (1000
// by default); remembering one more evicts the one that expires first. The
// bound also bounds the scripts that walk a user's sessions
// (RevokeAllForUser, reuse detection, Revoke of a rotated ID), which block
// Redis while they run; they read a few bytes of each session, or none,
// and never decode one, so a large Meta does not make them slower.
//
// # Observability
//
// [WithLogger] takes a *slog.Logger (default: discard): reuse and corrupt
// stored values are logged at WARN with user_id and jti_hash, the first 8
// hex digits of the ID's SHA-256. [WithObserver] receives an [Event] for
// every state change (evictions over [WithMaxSessionsPerUser] included,
// as [EventEvicted]) and backend failure, for metrics.
package sessions
