package sessions

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/redis/go-redis/v9"
)

// RedisStore is a Store on Redis or Redis Cluster, shared by every instance
// of an application. Each write is one Lua script over the keys of one
// user (one hash slot), so it is atomic and one round trip; IsActive is
// one GET. Keys expire with their sessions (PXAT/PEXPIREAT): no sweeper.
// The package documentation shows the key layout.
//
// It fails closed: a Redis error or an ended context makes every method
// return an error wrapping ErrUnavailable, and IsActive false. It
// recovers by itself when Redis answers again. Give the client
// ContextTimeoutEnabled so that the context's deadline bounds each call;
// without it a call to a Redis that stops answering can run up to the
// client's ReadTimeout past the deadline, and, with no deadline, for
// MaxRetries+1 read timeouts (about 20s with go-redis's defaults): see
// the package documentation.
//
// Redis must not evict keys (maxmemory-policy noeviction, or no
// maxmemory): with an index or a tombstone evicted, RevokeAllForUser and
// reuse detection miss sessions that stay active (see the package
// documentation).
//
// A RedisStore is safe for concurrent use. It never closes the client.
// The zero value is not usable; call NewRedisStore.
type RedisStore struct {
	core
	client  redis.UniversalClient
	keys    keyspace
	scripts scripts
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore returns a store on client, which stays the caller's. It
// does no I/O. When the client lacks ContextTimeoutEnabled it logs a WARN
// (to the WithLogger logger; none is kept by default) that states, from
// the client's options, how long a call can then outlive its context's
// deadline.
//
// The client must read from masters only: IsActive is one GET, and a
// replica that has not yet applied a Revoke or RevokeAllForUser would
// answer true. A *redis.ClusterClient with ReadOnly, RouteByLatency or
// RouteRandomly is therefore refused; a client that reads from replicas in
// a way the store cannot see (a *redis.Client on a replica's address, a
// failover client with ReplicaOnly) must not be passed. Give the store a
// client of its own when the rest of the application reads from replicas.
//
// A *redis.Ring is refused too: while one of its nodes is down it sends
// that node's keys to another, and back when the node returns, so a
// revocation written meanwhile is left on a node nothing reads and the
// revoked session is active again. Use a *redis.Client (a failover client
// included) or a *redis.ClusterClient.
//
// It returns an error wrapping ErrInvalid for a nil client (a nil
// *redis.Client in the interface included), a Ring, a client that reads
// from replicas, or a bad option.
func NewRedisStore(client redis.UniversalClient, opts ...Option) (*RedisStore, error) {
	if err := checkClient(client); err != nil {
		return nil, err
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if !contextTimeoutEnabled(client) {
		warnNoContextTimeout(o.logger, client)
	}
	return &RedisStore{core: core{o: o}, client: client, keys: keyspace{prefix: o.prefix}, scripts: newScripts()}, nil
}

// Remember implements Store: one script writes the session key (PXAT its
// expiry) and its index entry together, so RevokeAllForUser always finds
// it. The same script refuses a spent ID (one with a tombstone: rotated
// or revoked) and evicts the sessions over the per-user limit.
func (s *RedisStore) Remember(ctx context.Context, sess Session) error {
	now := s.now()
	sess, err := prepare(sess, now, "")
	if err != nil {
		return err
	}
	keys := []string{s.keys.index(sess.UserID), s.keys.session(sess.UserID, sess.ID),
		s.keys.tombstone(sess.UserID, sess.ID)}
	evicted, err := s.scripts.remember.Run(ctx, s.client, keys,
		now.UnixMilli(), member(sess.ID), encodeValue(sess), sess.ExpiresAt.UnixMilli(), s.o.maxPerUser).Int()
	if err != nil {
		return s.unavailable(ctx, "Remember", err)
	}
	switch {
	case evicted == -2:
		return errRevokedID
	case evicted < 0:
		return errSpent
	}
	s.observe(EventRemembered, 0)
	s.evicted(ctx, sess.UserID, evicted)
	return nil
}

// IsActive implements Store with one GET (no script, so it is served by
// the cheapest command Redis has) and the expiry checked here against the
// store's clock, to the millisecond, whatever the key's TTL says. Beyond
// the key and the GET itself it allocates nothing: the value is checked in
// place, without decoding it into a Session.
func (s *RedisStore) IsActive(ctx context.Context, userID, id string) (bool, error) {
	if err := checkID("userID", userID); err != nil {
		return false, err
	}
	if err := checkID("id", id); err != nil {
		return false, err
	}
	v, err := s.client.Get(ctx, s.keys.session(userID, id)).Result()
	if err == redis.Nil {
		return false, nil
	}
	if err != nil {
		return false, s.unavailable(ctx, "IsActive", err)
	}
	exp, err := activeExpiry(v, userID)
	if err != nil {
		s.corrupt(ctx, "IsActive", userID, id, err)
		return false, nil
	}
	return s.now().UnixMilli() < exp, nil
}

// Revoke implements Store with one script, which leaves a revocation
// tombstone (refresh:{user}:rotated:jti) for each active session it ends,
// expiring with it.
func (s *RedisStore) Revoke(ctx context.Context, userID, id string) error {
	if err := checkID("userID", userID); err != nil {
		return err
	}
	if err := checkID("id", id); err != nil {
		return err
	}
	keys := []string{s.keys.index(userID), s.keys.session(userID, id), s.keys.tombstone(userID, id)}
	n, err := s.scripts.revoke.Run(ctx, s.client, keys, s.now().UnixMilli(), member(id), userID, valueHead(userID)).Int()
	if err != nil {
		return s.unavailable(ctx, "Revoke", err)
	}
	s.observe(EventRevoked, n)
	return nil
}

// RevokeAllForUser implements Store: one script walks the user's index and
// deletes every session key in it, then the index. It counts the active
// sessions by their index entries, scored by expiry, without reading the
// values, and leaves a revocation tombstone for each, expiring with it.
func (s *RedisStore) RevokeAllForUser(ctx context.Context, userID string) (int, error) {
	if err := checkID("userID", userID); err != nil {
		return 0, err
	}
	n, err := s.scripts.revokeAll.Run(ctx, s.client, []string{s.keys.index(userID)},
		s.now().UnixMilli()).Int()
	if err != nil {
		return 0, s.unavailable(ctx, "RevokeAllForUser", err)
	}
	s.observe(EventRevokedAll, n)
	return n, nil
}

// ListForUser implements Store with one script that prunes the index and
// returns its members with their values.
func (s *RedisStore) ListForUser(ctx context.Context, userID string) ([]Session, error) {
	if err := checkID("userID", userID); err != nil {
		return nil, err
	}
	now := s.now()
	reply, err := s.scripts.list.Run(ctx, s.client, []string{s.keys.index(userID)}, now.UnixMilli()).Slice()
	if err != nil {
		return nil, s.unavailable(ctx, "ListForUser", err)
	}
	if len(reply)%2 != 0 {
		return nil, s.unavailable(ctx, "ListForUser", errors.New("odd-length reply"))
	}
	out := make([]Session, 0, len(reply)/2)
	for i := 0; i < len(reply); i += 2 {
		m, _ := reply[i].(string)
		raw, ok := reply[i+1].(string)
		if !ok {
			continue // expired by Redis's clock since the prune
		}
		id, ok := unescape(m)
		if !ok || checkID("id", id) != nil {
			s.corrupt(ctx, "ListForUser", userID, m, errBadMember)
			continue
		}
		sess, err := decodeValue(raw, userID, id)
		if err != nil {
			s.corrupt(ctx, "ListForUser", userID, id, err)
			continue
		}
		if now.Before(sess.ExpiresAt) {
			out = append(out, sess)
		}
	}
	sortSessions(out)
	return out, nil
}

// sortSessions puts sessions in ListForUser's order: soonest expiry first,
// then by ID.
func sortSessions(list []Session) {
	slices.SortFunc(list, func(a, b Session) int {
		if c := a.ExpiresAt.Compare(b.ExpiresAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}
