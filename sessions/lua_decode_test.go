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

	const batch = 500 // EVALSHAs per round trip
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

// BenchmarkLuaDecode reports what lib.lua's decode costs Redis per value
// (ns/decode: each call decodes the value 100 times in one script), for
// values the library writes: RevokeAllForUser and reuse detection decode
// every session of a user while Redis waits. The meta shapes are a
// browser's, and the largest the limits allow (4 KiB) of ASCII, of
// non-ASCII, and of '<', which encoding/json writes as six bytes (\u003c).
func BenchmarkLuaDecode(b *testing.B) {
	r := redistest.New(b)
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
