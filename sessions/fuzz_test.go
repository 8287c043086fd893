package sessions

// Fuzz targets for every decoder of stored data and for input validation.
// Seed corpora are in testdata/fuzz/<target>; `go test` runs the seeds,
// `go test -fuzz '^FuzzX$'` explores (.ci/run does, a few seconds each).

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/sytefy/kit/internal/redistest"
)

// FuzzDecodeValue checks the two decoders of a stored session value:
// IsActive's hand-written activeExpiry and ListForUser's decodeValue. They
// accept exactly the same values and agree on the expiry; what they accept
// is valid JSON with a non-empty family that encoding/json reads with the
// same owner and expiry; nothing panics.
func FuzzDecodeValue(f *testing.F) {
	for _, seed := range decodeValueSeeds {
		f.Add(seed.raw, seed.uid)
	}
	f.Fuzz(func(t *testing.T, raw, uid string) {
		exp, err := activeExpiry(raw, uid)
		s, derr := decodeValue(raw, uid, "jti")
		if (err == nil) != (derr == nil) {
			t.Fatalf("activeExpiry err %v, decodeValue err %v: they must agree", err, derr)
		}
		if err != nil {
			if !errors.Is(err, errCorrupt) && !errors.Is(err, errOtherUser) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if !json.Valid([]byte(raw)) {
			t.Fatalf("accepted invalid JSON %q", raw)
		}
		var w wire
		if err := json.Unmarshal([]byte(raw), &w); err != nil {
			t.Fatalf("accepted %q that encoding/json refuses: %v", raw, err)
		}
		// encoding/json matches member names case-insensitively (the last
		// "UID" overrides "uid"); the library's decoders do not, and it
		// never writes such twins.
		if !foldedTwins(raw) && (w.UID != uid || w.Exp != exp || w.Fam == "") {
			t.Fatalf("accepted %q for uid %q exp %d; encoding/json reads uid %q exp %d fam %q", raw, uid, exp, w.UID, w.Exp, w.Fam)
		}
		if s.UserID != uid || s.ID != "jti" || s.ExpiresAt.UnixMilli() != exp || s.FamilyID != w.Fam {
			t.Fatalf("decodeValue gave %+v for %q", s, raw)
		}
	})
}

// FuzzLuaDecode checks that the scripts' decoder (lib.lua's decode, run
// by the Redis of the test mode) and the Go decoders accept the same
// values and read the same family and times from them.
// TestLuaDecodeAgreesWithGo does so on a fixed corpus; this explores. By
// default it runs on miniredis's Lua; after a change to either decoder,
// run it for a while with REDIS_URL set, on Redis's own Lua.
func FuzzLuaDecode(f *testing.F) {
	for _, s := range decodeValueSeeds {
		f.Add(s.raw, s.uid)
	}
	for _, c := range activeExpiryCases() {
		f.Add(c.value, "u")
	}
	r := redistest.New(f)
	probe := redis.NewScript(luaLib + "\n" + luaDecodeProbe)
	f.Fuzz(func(t *testing.T, raw, uid string) {
		lua, err := luaRead(probe.Run(context.Background(), r.Client, nil, raw, uid))
		if err != nil {
			t.Fatalf("value %q: %v", raw, err)
		}
		if goRead := goDecodeRead(raw, uid); !slices.Equal(goRead, lua) {
			t.Fatalf("value %q for user %q: Go read %q, Lua %q", raw, uid, goRead, lua)
		}
	})
}

// decodeValueSeeds seed FuzzDecodeValue (beside testdata/fuzz) and are
// part of the corpus on which TestLuaDecodeAgreesWithGo compares the Go
// and the Lua decoders.
var decodeValueSeeds = []struct{ raw, uid string }{
	{encodeValue(Session{UserID: "u1", FamilyID: "f", IssuedAt: time.UnixMilli(1), ExpiresAt: time.UnixMilli(1_700_000_000_000)}), "u1"},
	{encodeValue(Session{UserID: `a"b\c`, FamilyID: "é", ExpiresAt: time.UnixMilli(5), Meta: map[string]string{"ip": "::1"}}), `a"b\c`},
	{`{"uid":"u1","fam":"f","iat":1,"exp":2,"meta":null,"later":[1,{"x":true}]}`, "u1"},
	{`{"uid":"u1","fam":"f","iat":1,"exp":2}`, "u2"},
	{`{"uid":"u1","fam":"f","iat":1,"exp":2,"exp":3}`, "u1"},
	{`{"uid":"u1","fam":"f","iat":1.5,"exp":2e3}`, "u1"},
	{`{"uid":"\u0075\u0031","fam":"\ud83d\ude00","iat":-1,"exp":9223372036854775807}`, "u1"},
	{`{"uid":"u1","fam":"f","iat":1,"exp":9223372036854775808}`, "u1"},
	{`{"uid":"u1","fam":"","iat":1,"exp":2}`, "u1"},
	{`{"uid":"u1","fam":"f","iat":1,"exp":`, "u1"},
	{`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`, "u1"},
	{"", ""},
}

// FuzzSessionValidation checks Remember's validation and the stored value:
// prepare either refuses with ErrInvalid naming a field, or returns a
// session within the documented limits whose encoded value decodes back to
// it exactly.
func FuzzSessionValidation(f *testing.F) {
	f.Add("jti-1", "user-1", "", int64(0), int64(3_600_000), "device", "phone")
	f.Add("a}:b", "a{", "fam", int64(-5), int64(1), "", "")
	f.Add("", "u", "", int64(0), int64(1), "k", "v")
	f.Add("id", "u\x00", "", int64(0), int64(1), "k", "v")
	f.Add("id", "u", "", int64(10), int64(5), "k", "v")
	f.Add("id", "u", "", int64(0), int64(-1), "k", "v")
	f.Add("id", "u", "\u0085", int64(0), int64(1<<53), "k", "\xff")
	f.Add(strings.Repeat("x", 257), "u", "", int64(0), int64(1), "k", strings.Repeat("v", 5000))
	now := time.UnixMilli(1_700_000_000_000)
	f.Fuzz(func(t *testing.T, id, uid, fam string, iatOff, expOff int64, mk, mv string) {
		in := Session{ID: id, UserID: uid, FamilyID: fam, ExpiresAt: now.Add(time.Duration(expOff) * time.Millisecond)}
		if iatOff != 0 {
			in.IssuedAt = now.Add(time.Duration(iatOff) * time.Millisecond)
		}
		if mk != "" || mv != "" {
			in.Meta = map[string]string{mk: mv}
		}
		s, err := prepare(in, now, "")
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			if !namesField(err.Error(), "ID", "UserID", "FamilyID", "ExpiresAt", "IssuedAt", "Meta") {
				t.Fatalf("error %q names no field", err)
			}
			return
		}
		for _, v := range []string{s.ID, s.UserID, s.FamilyID} {
			if !validID(v) {
				t.Fatalf("accepted ID-like field %q", v)
			}
		}
		if !s.ExpiresAt.After(now) || !s.IssuedAt.Before(s.ExpiresAt) {
			t.Fatalf("accepted times iat %v exp %v at %v", s.IssuedAt, s.ExpiresAt, now)
		}
		if s.FamilyID == "" {
			t.Fatalf("FamilyID not defaulted")
		}
		raw := encodeValue(s)
		exp, err := activeExpiry(raw, s.UserID)
		if err != nil || exp != s.ExpiresAt.UnixMilli() {
			t.Fatalf("own value %q: exp %d, err %v", raw, exp, err)
		}
		back, err := decodeValue(raw, s.UserID, s.ID)
		if err != nil {
			t.Fatalf("own value %q: %v", raw, err)
		}
		if !back.IssuedAt.Equal(s.IssuedAt) || !back.ExpiresAt.Equal(s.ExpiresAt) || back.FamilyID != s.FamilyID ||
			len(back.Meta) != len(s.Meta) || (len(s.Meta) > 0 && back.Meta[mk] != s.Meta[mk]) {
			t.Fatalf("round trip: stored %+v, decoded %+v", s, back)
		}
		if _, err := activeExpiry(raw, s.UserID+"x"); !errors.Is(err, errOtherUser) {
			t.Fatalf("value of %q accepted for another user: %v", s.UserID, err)
		}
	})
}

// FuzzKeys checks the key encoding: no two different (user, ID) pairs
// share a session key, a session key is never a tombstone key, the hash
// tag is the escaped user alone, and index members unescape to their IDs.
func FuzzKeys(f *testing.F) {
	f.Add("a", "b}:x", "a}:b", "x")
	f.Add("u", "%7D", "u", "}")
	f.Add("u{", "rotated:x", "u{", "x")
	f.Add("", "", "%", "%25")
	f.Fuzz(func(t *testing.T, u1, id1, u2, id2 string) {
		k := keyspace{prefix: "p"}
		if (u1 != u2 || id1 != id2) && k.session(u1, id1) == k.session(u2, id2) {
			t.Fatalf("(%q, %q) and (%q, %q) share key %q", u1, id1, u2, id2, k.session(u1, id1))
		}
		if k.session(u1, id1) == k.tombstone(u2, id2) {
			t.Fatalf("session key of (%q, %q) is the tombstone key of (%q, %q)", u1, id1, u2, id2)
		}
		if u1 != u2 && k.index(u1) == k.index(u2) {
			t.Fatalf("users %q and %q share an index", u1, u2)
		}
		for _, key := range []string{k.index(u1), k.session(u1, id1), k.tombstone(u1, id1)} {
			if u1 == "" {
				break // not a valid user ID: "{}" is no hash tag
			}
			if tag := hashTag(key); tag != hashTag(k.index(u1)) {
				t.Fatalf("key %q has hash tag %q, its index %q", key, tag, hashTag(k.index(u1)))
			}
		}
		if got, ok := unescape(member(id1)); !ok || got != id1 {
			t.Fatalf("unescape(member(%q)) = %q, %v", id1, got, ok)
		}
		if !strings.HasPrefix(k.session(u1, id1), k.index(u1)+":") {
			t.Fatalf("session key %q is not its index key plus ':'", k.session(u1, id1))
		}
	})
}

// FuzzUnescape checks the decoder of index members (ListForUser reads them
// back from Redis, where anything may have written them): it never panics,
// and whatever it accepts is exactly what member writes for the result, so
// two members never name one ID.
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{"abc", "%7B%7D%3A%25", "%7b", "%41", "%", "%2", "a:b", "{", "%3A%3A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := unescape(s)
		if !ok {
			return
		}
		if m := member(id); m != s {
			t.Fatalf("unescape(%q) = %q, but member(%q) = %q", s, id, id, m)
		}
	})
}

// foldedTwins reports whether raw has a member whose name differs from
// one of the schema's only in case.
func foldedTwins(raw string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(raw), &m) != nil {
		return true
	}
	for k := range m {
		for _, name := range []string{"uid", "fam", "iat", "exp", "meta"} {
			if k != name && strings.EqualFold(k, name) {
				return true
			}
		}
	}
	return false
}

// hashTag is the part of key Redis Cluster hashes: between the first '{'
// and the next '}', when that is not empty.
func hashTag(key string) string {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return key
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return key
	}
	return key[i+1 : i+1+j]
}

// validID is the documented limit, written independently of checkID:
// 1..MaxIDLen bytes of UTF-8 with no control character.
func validID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen || !utf8.ValidString(s) {
		return false
	}
	return strings.IndexFunc(s, unicode.IsControl) < 0
}

func namesField(msg string, fields ...string) bool {
	for _, f := range fields {
		if strings.Contains(msg, f) {
			return true
		}
	}
	return false
}
