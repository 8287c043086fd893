package reminders

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

// TestErrorText: the stored last error is valid UTF-8 of at most
// maxErrorText bytes, and keeps everything it can: an invalid byte is
// replaced, not a reason to drop the text after it.
func TestErrorText(t *testing.T) {
	long := strings.Repeat("a", 2*maxErrorText)
	euro := strings.Repeat("€", maxErrorText) // 3 bytes a rune: the cut falls inside one
	for name, tc := range map[string]struct {
		in, want string
	}{
		"short":               {"boom", "boom"},
		"cut":                 {long, long[:maxErrorText]},
		"cut on a rune start": {euro, euro[:maxErrorText/3*3]},
		"invalid byte early":  {"x\xff" + long, ("x\uFFFD" + long)[:maxErrorText]},
		"invalid byte short":  {"bad \xc3(", "bad \uFFFD("},
	} {
		t.Run(name, func(t *testing.T) {
			got := errorText(errors.New(tc.in))
			assert.Equal(t, tc.want, got)
			assert.True(t, utf8.ValidString(got))
			assert.LessOrEqual(t, len(got), maxErrorText)
		})
	}
}
