package sessions

import "strings"

// Redis key layout, for prefix "refresh" and user u:
//
//	refresh:{u}              index: sorted set of the user's session members,
//	                         score = expiry (Unix ms)
//	refresh:{u}:<jti>        session: JSON value, PXAT its expiry
//	refresh:{u}:rotated:<jti> tombstone of a rotated or revoked session,
//	                         until its expiry by both Redis's clock and the
//	                         writer's (the infix predates revocation
//	                         tombstones, and stays so that stored ones count)
//
// u and jti are escaped (see escape), so that the user's part is exactly
// what lies between the first '{' and the first '}' — Redis Cluster's hash
// tag, which puts every key of one user in one slot — and so that no two
// different (user, jti) pairs share a key. The index member of a session is
// its escaped jti: a script turns a member into the session key by
// appending it to the index key after ':'.
//
// Why this is injective: the prefix holds none of '{', '}', ':' (see
// WithKeyPrefix); an escaped user holds no '}', so the first '}' ends it;
// an escaped jti holds no ':', so a session key's suffix after "}:" has no
// ':' while a tombstone's does; and escaping itself is injective because
// '%' is escaped too.
type keyspace struct {
	prefix string
}

// tombstoneInfix sits between the index key and a tombstone's member.
const tombstoneInfix = ":rotated:"

func (k keyspace) index(userID string) string {
	var b strings.Builder
	b.Grow(len(k.prefix) + 3 + escapedLen(userID))
	k.writeIndex(&b, userID)
	return b.String()
}

// session is on IsActive's hot path: one allocation.
func (k keyspace) session(userID, id string) string {
	var b strings.Builder
	b.Grow(len(k.prefix) + 4 + escapedLen(userID) + escapedLen(id))
	k.writeIndex(&b, userID)
	b.WriteByte(':')
	writeEscaped(&b, id)
	return b.String()
}

func (k keyspace) tombstone(userID, id string) string {
	var b strings.Builder
	b.Grow(len(k.prefix) + 3 + len(tombstoneInfix) + escapedLen(userID) + escapedLen(id))
	k.writeIndex(&b, userID)
	b.WriteString(tombstoneInfix)
	writeEscaped(&b, id)
	return b.String()
}

func (k keyspace) writeIndex(b *strings.Builder, userID string) {
	b.WriteString(k.prefix)
	b.WriteString(":{")
	writeEscaped(b, userID)
	b.WriteByte('}')
}

// member is a session's index member: its escaped ID.
func member(id string) string {
	if escapedLen(id) == len(id) {
		return id
	}
	var b strings.Builder
	b.Grow(escapedLen(id))
	writeEscaped(&b, id)
	return b.String()
}

// needsEscape lists the bytes escape replaces by "%XX": the key syntax
// ('{', '}', ':') and the escape character itself.
func needsEscape(c byte) bool { return c == '%' || c == '{' || c == '}' || c == ':' }

func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			n += 2
		}
	}
	return n
}

const upperHex = "0123456789ABCDEF"

// writeEscaped writes s escaped in one pass, copying the runs between
// escaped bytes whole: the usual ID is one run.
func writeEscaped(b *strings.Builder, s string) {
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; needsEscape(c) {
			b.WriteString(s[start:i])
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
			start = i + 1
		}
	}
	b.WriteString(s[start:])
}

// unescape inverts member. ok is false for a string escape could not have
// produced (a stray '%' or bad hex), which only a foreign writer leaves.
func unescape(s string) (string, bool) {
	if escapedLen(s) == len(s) {
		return s, true
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			if needsEscape(c) {
				return "", false
			}
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		hi, lo := unhex(s[i+1]), unhex(s[i+2])
		if hi < 0 || lo < 0 || !needsEscape(byte(hi<<4|lo)) {
			return "", false
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	return b.String(), true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
