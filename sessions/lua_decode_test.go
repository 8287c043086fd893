package sessions

// The scripts' decoder (scripts/lib.lua decode) against the Go one
// (decode.go): they must accept exactly the same stored values.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
)

// luaDecodeProbe runs lib.lua's decode on the value ARGV[1] for user
// ARGV[2] and returns what it read, {fam, iat, exp}, or nil where it
// refused the value.
const luaDecodeProbe = `
local v = decode(ARGV[1], ARGV[2])
if not v then
  return false
end
return {v.fam, string.format('%.0f', v.iat), string.format('%.0f', v.exp)}
`

// TestLuaDecodeAgreesWithGo: the scripts' decoder (lib.lua) and IsActive's
// (activeExpiry, with decodeValue for ListForUser) accept exactly the same
// stored values, and read the same family and times from them. Were it
// not so, Rotate could build a successor on a session IsActive calls
// corrupt, or RevokeAllForUser count it. The corpus: TestActiveExpiry's
// cases, values encodeValue writes, FuzzDecodeValue's seeds and its
// corpus in testdata/fuzz, and some thousands of mutations of them, drawn
// from a fixed seed. Every mode runs it: decode uses no cjson, so
// miniredis's Lua must agree as well as Redis's.
func TestLuaDecodeAgreesWithGo(t *testing.T) {
	corpus := decodeCorpus(t)
	r := redistest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	probe := redis.NewScript(luaLib + "\n" + luaDecodeProbe)
	require.NoError(t, probe.Load(ctx, r.Client).Err())

	const batch = 100 // EVALSHAs per round trip; the read timeout bounds a whole pipeline's replies
	disagree := 0
	for start := 0; start < len(corpus); start += batch {
		part := corpus[start:min(start+batch, len(corpus))]
		pipe := r.Client.Pipeline()
		cmds := make([]*redis.Cmd, len(part))
		for i, c := range part {
			cmds[i] = probe.EvalSha(ctx, pipe, nil, c.raw, c.uid)
		}
		_, _ = pipe.Exec(ctx) // redis.Nil for each refusal; errors are checked per command
		for i, c := range part {
			lua, err := luaRead(cmds[i])
			require.NoError(t, err, "value %q", c.raw)
			goRead := goDecodeRead(c.raw, c.uid)
			if !assert.Equal(t, goRead, lua, "value %q for user %q: Go read %v, Lua %v", c.raw, c.uid, goRead, lua) {
				if disagree++; disagree > 20 {
					t.FailNow()
				}
			}
		}
	}
	accepted := 0
	for _, c := range corpus {
		if goDecodeRead(c.raw, c.uid) != nil {
			accepted++
		}
	}
	t.Logf("%d values, %d accepted by both", len(corpus), accepted)
	require.Greater(t, accepted, 100, "the corpus must exercise acceptance too")
}

// luaRead returns the probe's reading: nil for a refused value, else fam,
// iat and exp.
func luaRead(cmd *redis.Cmd) ([]string, error) {
	v, err := cmd.StringSlice()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil || len(v) != 3 {
		return nil, fmt.Errorf("probe reply %v: %w", v, err)
	}
	for i := 1; i < 3; i++ { // "-0" is 0
		n, err := strconv.ParseInt(v[i], 10, 64)
		if err != nil {
			return nil, err
		}
		v[i] = strconv.FormatInt(n, 10)
	}
	return v, nil
}

// goDecodeRead is luaRead's counterpart: nil unless both Go decoders
// accept raw for uid.
func goDecodeRead(raw, uid string) []string {
	exp, err := activeExpiry(raw, uid)
	s, derr := decodeValue(raw, uid, "jti")
	if err != nil || derr != nil || s.ExpiresAt.UnixMilli() != exp {
		return nil
	}
	return []string{s.FamilyID, strconv.FormatInt(s.IssuedAt.UnixMilli(), 10), strconv.FormatInt(exp, 10)}
}

type decodeInput struct{ raw, uid string }

// decodeCorpus returns the values TestLuaDecodeAgreesWithGo decodes both
// ways.
func decodeCorpus(t *testing.T) []decodeInput {
	var base []decodeInput
	for _, c := range activeExpiryCases() {
		base = append(base, decodeInput{c.value, "u"})
	}
	for _, u := range []string{"u", `quote"back\slash`, "<&>", "ü{ß}:", "emoji 😀", "\u2028\u2029", "\ufffd", "/slash", "\u0085"} {
		s := Session{UserID: u, FamilyID: u + "/fam\u00e9", IssuedAt: time.UnixMilli(-1), ExpiresAt: time.UnixMilli(maxUnixMilli),
			Meta: map[string]string{"ua": u + "\x7f", "Key_0.9-z": "", "ip": "192.0.2.1"}}
		base = append(base, decodeInput{encodeValue(s), u}, decodeInput{encodeValue(s), u + "x"})
	}
	for _, s := range decodeValueSeeds {
		base = append(base, decodeInput{s.raw, s.uid})
	}
	base = append(base, fuzzCorpus(t, "FuzzDecodeValue")...)

	// Mutations: each value cut, doubled or changed at a random byte, or
	// given an escape, a JSON token or a byte of an odd class.
	pieces := []string{`"`, `\`, "{", "}", ",", ":", " ", "\t", "\n", "\x00", "\x1f", "\x7f", "\x80", "\xc3", "\xed\xa0\x80",
		"\xf4\x90", "é", "0", "9", "-", ".", "e", "E", "+", "null", "[]", `\u00`, `\ud83d`, `\ude00`, `\ud83d\ude00`, `\/`, `\u0041`, `"a":"b"`}
	rng := rand.New(rand.NewPCG(1, 2))
	out := append([]decodeInput(nil), base...)
	for _, b := range base {
		if len(b.raw) == 0 {
			continue
		}
		for range 40 {
			raw, i := b.raw, rng.IntN(len(b.raw))
			switch p := pieces[rng.IntN(len(pieces))]; rng.IntN(4) {
			case 0:
				raw = raw[:i] + raw[i+1:]
			case 1:
				raw = raw[:i] + p + raw[i:]
			case 2:
				raw = raw[:i] + p + raw[i+1:]
			default:
				raw = raw[:i] + raw[i:i+1] + raw[i:]
			}
			out = append(out, decodeInput{raw, b.uid})
		}
	}
	return out
}

// fuzzCorpus reads the inputs of a fuzz target's corpus in testdata/fuzz:
// two strings each, the value and the user.
func fuzzCorpus(t *testing.T, target string) []decodeInput {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var out []decodeInput
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		require.Len(t, lines, 3, f)
		var args [2]string
		for i, l := range lines[1:] {
			q, ok := strings.CutPrefix(l, "string(")
			require.True(t, ok && strings.HasSuffix(q, ")"), "%s: %q", f, l)
			args[i], err = strconv.Unquote(strings.TrimSuffix(q, ")"))
			require.NoError(t, err, f)
		}
		out = append(out, decodeInput{args[0], args[1]})
	}
	return out
}

// TestLuaJSONStringAgreesWithGo: lib.lua's json_string writes a string as
// Go's encoding/json does (jsonString), byte for byte, so that Rotate's
// successor, whose family the script writes, starts with the same bytes as
// every other value of the family (revoke_family compares that prefix).
// The corpus: every byte that JSON or HTML escaping treats specially, the
// Unicode line separators, and random strings of such pieces.
func TestLuaJSONStringAgreesWithGo(t *testing.T) {
	r := redistest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	probe := redis.NewScript(luaLib + "\nreturn json_string(ARGV[1])")
	require.NoError(t, probe.Load(ctx, r.Client).Err())

	var corpus []string
	for c := range 0x80 {
		corpus = append(corpus, string(rune(c)), "a"+string(rune(c))+"b")
	}
	pieces := []string{"\u2028", "\u2029", "\u2027", "\u202a", "\u0085", "\u00a0", "\ufffd", "é", "中", "😀", "\x7f",
		`"`, `\`, "/", "<", ">", "&", "\x00", "\x1f", "\b", "\f", "\n", "\r", "\t", "a", "0", "%", "%%", "\u00e2\u0080"}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		corpus = append(corpus, b.String())
	}
	// Pipelines of 100: the client's read timeout bounds a whole
	// pipeline's replies, and miniredis's Lua under -race on a busy host
	// is slow.
	for chunk := range slices.Chunk(corpus, 100) {
		pipe := r.Client.Pipeline()
		cmds := make([]*redis.Cmd, len(chunk))
		for i, c := range chunk {
			cmds[i] = probe.EvalSha(ctx, pipe, nil, c)
		}
		_, err := pipe.Exec(ctx)
		require.NoError(t, err)
		for i, c := range chunk {
			got, err := cmds[i].Text()
			require.NoError(t, err)
			require.Equal(t, jsonString(c), got, "string %q", c)
		}
	}
}

// Rotate writes its successor in the canonical form Remember writes: the
// stored value is encodeValue's, byte for byte, whatever the family holds
// (the script used cjson, which writes '/' as "\/" and leaves <, > and &
// as they are, so a family's values no longer shared their first bytes).
func TestRedisRotateWritesCanonicalValue(t *testing.T) {
	r := redistest.New(t)
	s, err := NewRedisStore(r.Client, WithKeyPrefix(r.Prefix))
	require.NoError(t, err)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	for i, fam := range []string{"plain", "a/b", "<script>&amp;", `quote"back\slash`, "line\u2028sep\u2029", "é中😀\u00a0"} {
		u := fmt.Sprint("u", i)
		root := Session{ID: "root", UserID: u, FamilyID: fam, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
		require.NoError(t, s.Remember(ctx, root))
		next := Session{ID: "next", UserID: u, IssuedAt: now, ExpiresAt: now.Add(2 * time.Hour),
			Meta: map[string]string{"ua": "<b>"}}
		got, err := s.Rotate(ctx, u, "root", next)
		require.NoError(t, err)
		require.Equal(t, fam, got.FamilyID)
		raw, err := r.Client.Get(ctx, s.keys.session(u, "next")).Result()
		require.NoError(t, err)
		next.FamilyID = fam
		assert.Equal(t, encodeValue(next), raw, "family %q", fam)
	}
}

// BenchmarkLuaDecode reports what lib.lua's decode costs Redis per value
// (ns/decode: each call decodes the value 100 times in one script), for
// values the library writes: Revoke and Rotate decode one value each while
// Redis waits (the walks over a user's sessions decode none: see
// BenchmarkRevokeFamily1000). The meta shapes are a
// browser's, and the largest the limits allow (4 KiB) of ASCII, of
// non-ASCII, and of '<', which encoding/json writes as six bytes (\u003c).
func BenchmarkLuaDecode(b *testing.B) {
	r := redistest.New(b)
	if r.Mode == redistest.Mini {
		// miniredis runs scripts in gopher-lua, tens of times slower than
		// Redis's Lua on these strings: its figure would not be Redis's
		// cost, and the 4 KiB cases outlast the client's read timeout.
		b.Skip("needs a real Redis (REDIS_URL): miniredis's Lua is not Redis's")
	}
	ctx := context.Background()
	loop := redis.NewScript(luaLib + `
for _ = 1, 100 do
  if not decode(ARGV[1], ARGV[2]) then
    return redis.error_reply('refused')
  end
end
return 1
`)
	meta := func(v string) map[string]string {
		m := map[string]string{}
		for i := range MaxMetaEntries {
			m[fmt.Sprintf("k%02d", i)] = strings.Repeat(v, (MaxMetaBytes/MaxMetaEntries-3)/len(v))
		}
		return m
	}
	for _, bc := range []struct {
		name string
		meta map[string]string
	}{
		{"browser", map[string]string{"ip": "192.0.2.1", "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"}},
		{"4KiB-ascii", meta("a")},
		{"4KiB-non-ascii", meta("é")},
		{"4KiB-escaped", meta("<")},
	} {
		s := Session{UserID: "user-123", FamilyID: "3f1c2a9e-1d2b-4c5d-9e8f-001122334455",
			IssuedAt: time.UnixMilli(1_700_000_000_000), ExpiresAt: time.UnixMilli(1_700_003_600_000), Meta: bc.meta}
		require.NoError(b, checkMeta("Meta", s.Meta))
		raw := encodeValue(s)
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				require.NoError(b, loop.Run(ctx, r.Client, nil, raw, s.UserID).Err())
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/decode")
			b.ReportMetric(float64(len(raw)), "value-bytes")
		})
	}
}
