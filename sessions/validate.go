package sessions

import (
	"fmt"
	"maps"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxUnixMilli is the latest expiry accepted: 2^53-1 ms (about year 287,000)
// is the largest integer a Lua number (a float64) holds exactly, and
// the scripts compare expiries as Lua numbers.
const maxUnixMilli = 1<<53 - 1

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: "+format, append([]any{ErrInvalid, field}, args...)...)
}

// checkID checks an ID-like argument: 1..MaxIDLen bytes of valid UTF-8
// without control characters. The error names field, never the value: the
// value may be a token ID, and callers log errors. It does not allocate
// when v is valid (IsActive calls it on the hot path).
func checkID(field, v string) error {
	if len(v) == 0 {
		return invalid(field, "empty")
	}
	if len(v) > MaxIDLen {
		return invalid(field, "%d bytes, want at most %d", len(v), MaxIDLen)
	}
	ascii := true
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= utf8.RuneSelf {
			ascii = false
			break
		} else if c < 0x20 || c == 0x7f { // what unicode.IsControl says of ASCII
			return invalid(field, "control character at byte %d", i)
		}
	}
	if ascii { // the usual ID, checked in one pass
		return nil
	}
	if !utf8.ValidString(v) {
		return invalid(field, "not valid UTF-8")
	}
	for i, r := range v {
		if unicode.IsControl(r) {
			return invalid(field, "control character at byte %d", i)
		}
	}
	return nil
}

func checkMeta(field string, m map[string]string) error {
	if len(m) > MaxMetaEntries {
		return invalid(field, "%d entries, want at most %d", len(m), MaxMetaEntries)
	}
	total := 0
	for k, v := range m {
		if len(k) == 0 || len(k) > MaxMetaKeyLen {
			return invalid(field, "key of %d bytes, want 1..%d", len(k), MaxMetaKeyLen)
		}
		for i := 0; i < len(k); i++ {
			if !metaKeyByte(k[i]) {
				return invalid(field, "key byte %q not allowed", k[i])
			}
		}
		if !utf8.ValidString(v) {
			return invalid(field, "value is not valid UTF-8")
		}
		total += len(k) + len(v)
	}
	if total > MaxMetaBytes {
		return invalid(field, "%d bytes, want at most %d", total, MaxMetaBytes)
	}
	return nil
}

// metaKeyByte reports whether c may appear in a Meta key: ASCII letters,
// digits, '_', '-' and '.'. Such keys need no escaping in JSON, which keeps
// the stored value simple enough for the Lua side to check exactly (see
// scripts/lib.lua).
func metaKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// prepare validates s for storing at now and returns its stored form:
// times truncated to the millisecond in UTC, IssuedAt defaulted to now,
// FamilyID defaulted to ID, Meta copied (the caller may reuse its map).
// Field names in errors start with prefix ("" for Remember, "next." for
// Rotate). On Rotate the FamilyID default is left to the store, which
// takes the old session's.
func prepare(s Session, now time.Time, prefix string) (Session, error) {
	if err := checkID(prefix+"ID", s.ID); err != nil {
		return Session{}, err
	}
	if err := checkID(prefix+"UserID", s.UserID); err != nil {
		return Session{}, err
	}
	if s.FamilyID != "" {
		if err := checkID(prefix+"FamilyID", s.FamilyID); err != nil {
			return Session{}, err
		}
	}
	if s.ExpiresAt.IsZero() {
		return Session{}, invalid(prefix+"ExpiresAt", "zero")
	}
	nowMs, exp := clampedMillis(now), clampedMillis(s.ExpiresAt)
	if exp <= nowMs {
		return Session{}, invalid(prefix+"ExpiresAt", "not after now")
	}
	if exp > maxUnixMilli {
		return Session{}, invalid(prefix+"ExpiresAt", "after 2^53-1 Unix ms (about year 287,000)")
	}
	iat := nowMs
	if !s.IssuedAt.IsZero() {
		iat = clampedMillis(s.IssuedAt)
	}
	if iat >= exp {
		return Session{}, invalid(prefix+"IssuedAt", "not before ExpiresAt")
	}
	if iat < 0 {
		return Session{}, invalid(prefix+"IssuedAt", "before 1970 (the Unix epoch)")
	}
	if err := checkMeta(prefix+"Meta", s.Meta); err != nil {
		return Session{}, err
	}
	s.IssuedAt, s.ExpiresAt = unixMilli(iat), unixMilli(exp)
	if len(s.Meta) == 0 {
		s.Meta = nil
	} else {
		s.Meta = maps.Clone(s.Meta)
	}
	if s.FamilyID == "" && prefix == "" {
		s.FamilyID = s.ID
	}
	return s, nil
}

// prepareNext validates Rotate's arguments and returns next's stored form
// (UserID filled in; FamilyID left as given, "" or the old family's).
func prepareNext(userID, oldID string, next Session, now time.Time) (Session, error) {
	if err := checkID("userID", userID); err != nil {
		return Session{}, err
	}
	if err := checkID("oldID", oldID); err != nil {
		return Session{}, err
	}
	if next.UserID == "" {
		next.UserID = userID
	}
	if next.UserID != userID {
		return Session{}, invalid("next.UserID", "not userID")
	}
	next, err := prepare(next, now, "next.")
	if err != nil {
		return Session{}, err
	}
	if next.ID == oldID {
		return Session{}, invalid("next.ID", "equals oldID")
	}
	return next, nil
}

func unixMilli(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// clampedMillis returns t in Unix milliseconds, or maxUnixMilli+1 with t's
// sign when t is so far out that the conversion could overflow:
// t.UnixMilli() wraps past year 292 million to any value at all, so the
// range is checked on Unix seconds first. Callers refuse anything beyond
// ±maxUnixMilli, so the clamp changes no decision but the wrapped ones.
func clampedMillis(t time.Time) int64 {
	const limit = maxUnixMilli + 1
	switch sec := t.Unix(); {
	case sec > limit/1000:
		return limit
	case sec < -limit/1000:
		return -limit
	}
	return t.UnixMilli() // |sec| <= 2^53/1000: no overflow
}
