package sessions

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// activeExpiryCase is a stored value with what activeExpiry makes of it
// for user "u".
type activeExpiryCase struct {
	name, value string
	exp         int64
	err         error
}

func activeExpiryCases() []activeExpiryCase {
	valid := `{"uid":"u","fam":"f","iat":1,"exp":1700000000123}`
	return []activeExpiryCase{
		{"valid", valid, 1700000000123, nil},
		{"meta and spaces", ` { "uid" : "u" , "fam":"f","iat":1,"exp":5, "meta" : {"a":"b","c":""} } `, 5, nil},
		{"null meta", `{"uid":"u","fam":"f","iat":1,"exp":5,"meta":null}`, 5, nil},
		{"any order", `{"exp":5,"meta":{},"iat":1,"fam":"f","uid":"u"}`, 5, nil},
		{"unknown member", `{"v":1,"uid":"u","fam":"f","iat":1,"exp":5}`, 0, errCorrupt},
		{"duplicate meta key", `{"uid":"u","fam":"f","iat":1,"exp":5,"meta":{"a":"1","a":"2"}}`, 0, errCorrupt},
		{"escaped meta key", `{"uid":"u","fam":"f","iat":1,"exp":5,"meta":{"\u0061":"1"}}`, 0, errCorrupt},
		{"meta key charset", `{"uid":"u","fam":"f","iat":1,"exp":5,"meta":{"a b":"1"}}`, 0, errCorrupt},
		{"meta array", `{"uid":"u","fam":"f","iat":1,"exp":5,"meta":[]}`, 0, errCorrupt},
		{"escaped uid", `{"uid":"\u0075","fam":"f","iat":1,"exp":5}`, 5, nil},
		{"escaped member name", `{"\u0075id":"u","fam":"f","iat":1,"exp":5}`, 5, nil},
		{"negative", `{"uid":"u","fam":"f","iat":-1,"exp":-5}`, -5, nil},
		{"other user", `{"uid":"v","fam":"f","iat":1,"exp":5}`, 0, errOtherUser},
		{"uid prefix", `{"uid":"uu","fam":"f","iat":1,"exp":5}`, 0, errOtherUser},
		{"empty", ``, 0, errCorrupt},
		{"empty object", `{}`, 0, errCorrupt},
		{"array", `[]`, 0, errCorrupt},
		{"truncated", valid[:len(valid)-1], 0, errCorrupt},
		{"trailing", valid + `x`, 0, errCorrupt},
		{"two values", valid + valid, 0, errCorrupt},
		{"duplicate uid", `{"uid":"v","uid":"u","fam":"f","iat":1,"exp":5}`, 0, errCorrupt},
		{"no exp", `{"uid":"u","fam":"f","iat":1}`, 0, errCorrupt},
		{"no fam", `{"uid":"u","iat":1,"exp":5}`, 0, errCorrupt},
		{"empty fam", `{"uid":"u","fam":"","iat":1,"exp":5}`, 0, errCorrupt},
		{"string exp", `{"uid":"u","fam":"f","iat":1,"exp":"5"}`, 0, errCorrupt},
		{"fraction", `{"uid":"u","fam":"f","iat":1,"exp":5.0}`, 0, errCorrupt},
		{"exponent", `{"uid":"u","fam":"f","iat":1,"exp":5e3}`, 0, errCorrupt},
		{"leading zero", `{"uid":"u","fam":"f","iat":1,"exp":05}`, 0, errCorrupt},
		{"overflow", `{"uid":"u","fam":"f","iat":1,"exp":9223372036854775808}`, 0, errCorrupt},
		{"iat out of range", `{"uid":"u","fam":"f","iat":-9007199254740992,"exp":5}`, 0, errCorrupt},
		{"meta number", `{"uid":"u","fam":"f","iat":1,"exp":5,"meta":{"a":1}}`, 0, errCorrupt},
		{"control char", "{\"uid\":\"u\x01\",\"fam\":\"f\",\"iat\":1,\"exp\":5}", 0, errCorrupt},
		{"bad escape", `{"uid":"\x","fam":"f","iat":1,"exp":5}`, 0, errCorrupt},
		{"case twin", `{"uid":"u","fam":"f","iat":1,"exp":5,"EXP":6}`, 0, errCorrupt},
		{"invalid UTF-8", "{\"uid\":\"u\",\"fam\":\"\xff\",\"iat\":1,\"exp\":5}", 0, errCorrupt},
		{"overlong UTF-8", "{\"uid\":\"u\",\"fam\":\"\xc0\xaf\",\"iat\":1,\"exp\":5}", 0, errCorrupt},
		{"UTF-8 surrogate", "{\"uid\":\"u\",\"fam\":\"\xed\xa0\x80\",\"iat\":1,\"exp\":5}", 0, errCorrupt},
		{"past U+10FFFF", "{\"uid\":\"u\",\"fam\":\"\xf4\x90\x80\x80\",\"iat\":1,\"exp\":5}", 0, errCorrupt},
		{"cut UTF-8", "{\"uid\":\"u\",\"fam\":\"\xe2\x82\",\"iat\":1,\"exp\":5}", 0, errCorrupt},
		{"4-byte UTF-8", "{\"uid\":\"u\",\"fam\":\"\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\",\"iat\":1,\"exp\":5}", 5, nil},
		{"lone high surrogate", `{"uid":"u","fam":"\ud800","iat":1,"exp":5}`, 0, errCorrupt},
		{"lone low surrogate", `{"uid":"u","fam":"\udc00x","iat":1,"exp":5}`, 0, errCorrupt},
		{"high surrogate then not low", `{"uid":"u","fam":"\ud800\u0041","iat":1,"exp":5}`, 0, errCorrupt},
		{"surrogate pair", `{"uid":"u","fam":"\uD83D\uDE00","iat":1,"exp":5}`, 5, nil},
		{"escaped NUL", `{"uid":"u","fam":"\u0000","iat":1,"exp":5}`, 5, nil},
		{"raw tab in meta value", "{\"uid\":\"u\",\"fam\":\"f\",\"iat\":1,\"exp\":5,\"meta\":{\"a\":\"x\ty\"}}", 0, errCorrupt},
		{"raw newline in fam", "{\"uid\":\"u\",\"fam\":\"f\n\",\"iat\":1,\"exp\":5}", 0, errCorrupt},
		{"NUL after the value", "{\"uid\":\"u\",\"fam\":\"f\",\"iat\":1,\"exp\":5}\x00x", 0, errCorrupt},
		{"hex", `{"uid":"u","fam":"f","iat":1,"exp":0x10}`, 0, errCorrupt},
		{"plus", `{"uid":"u","fam":"f","iat":1,"exp":+5}`, 0, errCorrupt},
		{"trailing dot", `{"uid":"u","fam":"f","iat":1,"exp":5.}`, 0, errCorrupt},
		{"infinity", `{"uid":"u","fam":"f","iat":1,"exp":Infinity}`, 0, errCorrupt},
		{"minus zero", `{"uid":"u","fam":"f","iat":-0,"exp":5}`, 5, nil},
		{"sixteen digits", `{"uid":"u","fam":"f","iat":1000000000000000,"exp":9007199254740991}`, 9007199254740991, nil},
		{"2^53", `{"uid":"u","fam":"f","iat":1,"exp":9007199254740992}`, 0, errCorrupt},
		{"-(2^53+1)", `{"uid":"u","fam":"f","iat":1,"exp":-9007199254740993}`, 0, errCorrupt},
		{"form feed is no space", "{\"uid\":\"u\",\"fam\":\"f\",\"iat\":1,\"exp\":5}\f", 0, errCorrupt},
		{"meta null misspelt", `{"uid":"u","fam":"f","iat":1,"exp":5,"meta":nul}`, 0, errCorrupt},
		{"long meta key", `{"uid":"u","fam":"f","iat":1,"exp":5,"meta":{"` + strings.Repeat("k", MaxMetaKeyLen+1) + `":""}}`, 0, errCorrupt},
		{"longest meta key", `{"uid":"u","fam":"f","iat":1,"exp":5,"meta":{"` + strings.Repeat("k", MaxMetaKeyLen) + `":"\u00e9\n"}}`, 5, nil},
		{"escaped quote in fam", `{"uid":"u","fam":"x\":y","iat":1,"exp":5}`, 5, nil},
		{"deep", `{"v":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `,"uid":"u","fam":"f","iat":1,"exp":5}`, 0, errCorrupt},
		{"too many meta", `{"uid":"u","fam":"f","iat":1,"exp":5,"meta":{` + manyMeta(MaxMetaEntries+1) + `}}`, 0, errCorrupt},
		{"most meta", `{"uid":"u","fam":"f","iat":1,"exp":5,"meta":{` + manyMeta(MaxMetaEntries) + `}}`, 5, nil},
	}
}

func TestActiveExpiry(t *testing.T) {
	for _, tc := range activeExpiryCases() {
		exp, err := activeExpiry(tc.value, "u")
		assert.ErrorIs(t, err, tc.err, tc.name)
		assert.Equal(t, tc.exp, exp, tc.name)
		if tc.err == nil {
			assert.True(t, json.Valid([]byte(tc.value)), tc.name)
		}
	}
	exp, err := activeExpiry(`{"uid":"u","fam":"f","iat":-9007199254740991,"exp":9007199254740991}`, "u")
	require.NoError(t, err)
	assert.Equal(t, int64(9007199254740991), exp, "2^53-1, the largest a Lua number holds exactly")
	_, err = activeExpiry(`{"uid":"u","fam":"f","iat":1,"exp":9007199254740992}`, "u")
	assert.ErrorIs(t, err, errCorrupt)
}

func manyMeta(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"k%d":"v"`, i)
	}
	return strings.Join(parts, ",")
}

// TestActiveExpiryMatchesEncoding: every value encodeValue writes decodes,
// with encodeValue's expiry, for its user and no other; escapes, surrogate
// pairs and HTML-escaped bytes included.
func TestActiveExpiryMatchesEncoding(t *testing.T) {
	users := []string{"u", `quote"back\slash`, "<&>", "ü{ß}:", "emoji 😀", "\u2028\u2029", "\ufffd", "/slash"}
	for _, u := range users {
		s := Session{ID: "i", UserID: u, FamilyID: u + "-fam", IssuedAt: time.UnixMilli(1), ExpiresAt: time.UnixMilli(1700000000123),
			Meta: map[string]string{"ua": u, "Key_0.9-z": "x"}}
		v := encodeValue(s)
		exp, err := activeExpiry(v, u)
		require.NoError(t, err, v)
		assert.Equal(t, int64(1700000000123), exp)
		_, err = activeExpiry(v, u+"x")
		assert.ErrorIs(t, err, errOtherUser)
		got, err := decodeValue(v, u, "i")
		require.NoError(t, err)
		assert.Equal(t, s.FamilyID, got.FamilyID)
		assert.Equal(t, s.Meta, got.Meta)
	}
	// Lua's cjson writes '/' as "\/" and non-ASCII raw; rotate.lua splices
	// the family in that way.
	_, err := activeExpiry(`{"uid":"\/slash","fam":"a\/b","iat":1,"exp":5}`, "/slash")
	require.NoError(t, err)
}

func TestActiveExpiryDoesNotAllocate(t *testing.T) {
	v := encodeValue(Session{UserID: `user "1" <&>`, FamilyID: "fam", IssuedAt: time.UnixMilli(1), ExpiresAt: time.UnixMilli(2),
		Meta: map[string]string{"ip": "192.0.2.1", "user_agent": "Mozilla/5.0 (X11; Linux x86_64) \u00e9"}})
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := activeExpiry(v, `user "1" <&>`); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

func TestEncodeValueFormat(t *testing.T) {
	got := encodeValue(Session{UserID: "alice", FamilyID: "f1", IssuedAt: time.UnixMilli(1700000000000),
		ExpiresAt: time.UnixMilli(1700003600000), Meta: map[string]string{"ip": "192.0.2.1"}})
	assert.Equal(t, `{"uid":"alice","fam":"f1","iat":1700000000000,"exp":1700003600000,"meta":{"ip":"192.0.2.1"}}`, got)
}
