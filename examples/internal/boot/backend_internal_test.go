package boot

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRedactURL: the URL logged at start shows no password: in the
// user-info, one holding '/', '#' or '?' included, or in a query parameter.
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:s3cret@h:6379/0":            "redis://xxxxx@h:6379/0",
		"redis://u:s3cret@h:6379/0":           "redis://xxxxx@h:6379/0",
		"redis://:s3cret/Ab+c=@h:6379/0":      "redis://xxxxx@h:6379/0",
		"redis://u:s3cret#x@h:6379/0":         "redis://xxxxx@h:6379/0",
		"redis://:1234/s3cret@h:6379/0":       "redis://xxxxx@h:6379/0",
		"redis://h:6379/0?password=s3cret":    "redis://h:6379/0?password=xxxxx",
		"redis://h:6379/0?Password=s3cret":    "redis://h:6379/0?Password=xxxxx",
		"redis://h:6379/0":                    "redis://h:6379/0",
		"rediss://h:6379":                     "rediss://h:6379",
		"redis://h:1?addr=h2:2&password=s3cr": "redis://h:1?addr=h2%3A2&password=xxxxx",
	} {
		assert.Equal(t, want, redactURL(in), in)
	}
}
