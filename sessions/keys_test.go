package sessions

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeyLayout(t *testing.T) {
	k := keyspace{prefix: "refresh"}
	assert.Equal(t, "refresh:{alice}", k.index("alice"))
	assert.Equal(t, "refresh:{alice}:jti-1", k.session("alice", "jti-1"))
	assert.Equal(t, "refresh:{alice}:rotated:jti-1", k.tombstone("alice", "jti-1"))
	assert.Equal(t, "refresh:{a%7D%3Ab}:x", k.session("a}:b", "x"))
	assert.Equal(t, "refresh:{a}:b%7D%3Ax", k.session("a", "b}:x"))
	assert.Equal(t, "refresh:{%25%7B}:%3A", k.session("%{", ":"))
	// A script builds a session key from the index key and the member.
	assert.Equal(t, k.session("a}:b", "c:{d}"), k.index("a}:b")+":"+member("c:{d}"))
}

// randomID draws from an alphabet rich in the bytes the layout cares about.
func randomID(r *rand.Rand) string {
	const alphabet = "ab{}:%7DB3A"
	n := 1 + r.IntN(6)
	var b strings.Builder
	for range n {
		b.WriteByte(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

// TestKeysAreInjective: distinct (user, id) pairs never share a key, no
// session key equals a tombstone or index key, every key of a user has
// the user's hash tag, and member is undone by unescape.
func TestKeysAreInjective(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	k := keyspace{prefix: "p"}
	owner := map[string][3]string{} // key -> kind, user, id
	for range 20000 {
		u, id := randomID(r), randomID(r)
		for kind, key := range map[string]string{"s": k.session(u, id), "t": k.tombstone(u, id), "i": k.index(u)} {
			want := [3]string{kind, u, id}
			if kind == "i" {
				want[2] = ""
			}
			if prev, ok := owner[key]; ok {
				require.Equal(t, prev, want, "key %q", key)
			}
			owner[key] = want
			open, end := strings.IndexByte(key, '{'), strings.IndexByte(key, '}')
			require.Equal(t, member(u), key[open+1:end], "hash tag of %q", key)
		}
		back, ok := unescape(member(id))
		require.True(t, ok)
		require.Equal(t, id, back)
	}
}

func TestUnescapeRejectsWhatEscapeCannotProduce(t *testing.T) {
	for _, s := range []string{"%", "%7", "%zz", "%41", "%7d", "a:b", "{", "}"} {
		_, ok := unescape(s)
		assert.False(t, ok, "%q", s)
	}
}

func TestSessionKeyAllocatesOnce(t *testing.T) {
	k := keyspace{prefix: "refresh"}
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _ = k.session("user:{1}", "jti-0123456789") }))
}
