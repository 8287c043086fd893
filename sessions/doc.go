// Package sessions is a server-side store of refresh sessions: one record
// per issued refresh token, keyed by the token's ID (JWT "jti") and its
// user (JWT "sub"), so that logout, "log out everywhere" and refresh token
// rotation take effect on every instance of a service at once.
//
// # Concepts
//
// A [Session] is remembered at login ([Store.Remember]), checked on every
// refresh or request ([Store.IsActive]), and ended by logout
// ([Store.Revoke]) or by logging out everywhere ([Store.RevokeAllForUser]).
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
//	refresh:{user}:rotated:jti      tombstone of a rotated session
//
// The client must read from masters: a replica may not have applied a
// revoke yet, and IsActive's GET would find the session there. So
// [NewRedisStore] refuses a ClusterClient that reads from replicas
// (ReadOnly, RouteByLatency, RouteRandomly); do not hand it a client
// pointed at a replica either. Writes are scripts, which go to masters.
//
// Give the go-redis client ContextTimeoutEnabled: then each call is bounded
// by its context's deadline. Without it, the client's ReadTimeout and
// WriteTimeout (3s by default) bound a call to a hung server, and
// NewRedisStore logs a warning.
//
// Each user may have at most [WithMaxSessionsPerUser] live sessions (1000
// by default); remembering one more evicts the one that expires first. The
// bound also bounds the scripts that walk a user's sessions.
//
// # Observability
//
// [WithLogger] takes a *slog.Logger (default: discard): reuse and corrupt
// stored values are logged at WARN with user_id and jti_hash, the first 8
// hex digits of the ID's SHA-256. [WithObserver] receives an [Event] for
// every state change and backend failure, for metrics.
package sessions
