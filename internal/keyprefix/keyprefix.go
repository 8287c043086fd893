// Package keyprefix checks the key prefixes that sessions and reminders
// accept, so that both packages refuse the same prefixes for the same
// reason.
package keyprefix

import "fmt"

// MaxLen is the longest prefix, in bytes.
const MaxLen = 64

// Check returns nil when p is 1..MaxLen bytes of ASCII letters, digits,
// '.', '_' and '-'. Anything else could break the key layout: '{' and '}'
// would move the Redis Cluster hash tag, ':' would blur where the prefix
// ends, and spaces or control bytes make keys hard to inspect.
func Check(p string) error {
	if len(p) == 0 || len(p) > MaxLen {
		return fmt.Errorf("length %d, want 1..%d", len(p), MaxLen)
	}
	for _, c := range []byte(p) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("byte %q not allowed", c)
		}
	}
	return nil
}
