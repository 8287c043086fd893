package boot

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRedactURL: the URL logged at start shows no password, in the
// user-info or in a query parameter.
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:s3cret@h:6379/0":            "redis://:xxxxx@h:6379/0",
		"redis://u:s3cret@h:6379/0":           "redis://u:xxxxx@h:6379/0",
		"redis://h:6379/0?password=s3cret":    "redis://h:6379/0?password=xxxxx",
		"redis://h:6379/0":                    "redis://h:6379/0",
		"redis://:s3cret%zz@h:6379/0":         "(unparsable URL)",
		"redis://h:1?addr=h2:2&password=s3cr": "redis://h:1?addr=h2%3A2&password=xxxxx",
	} {
		assert.Equal(t, want, redactURL(in), in)
	}
}
