package keyprefix

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheck(t *testing.T) {
	for _, ok := range []string{"a", "refresh", "app-1.v2_x", strings.Repeat("z", MaxLen)} {
		assert.NoError(t, Check(ok), ok)
	}
	for _, bad := range []string{"", strings.Repeat("z", MaxLen+1), "a{b", "a}b", "a:b", "a b", "a\nb", "é"} {
		assert.Error(t, Check(bad), bad)
	}
}
