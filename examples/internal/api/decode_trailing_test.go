package api

import (
	"errors"
	"strings"
	"testing"

	"github.com/sytefy/kit/examples/internal/app"
)

// TestDecodeRefusesTrailingCloser: decode refuses any data after the JSON
// object, a stray closing '}' or ']' included (json.Decoder.More reports
// false before those), and accepts trailing white space.
func TestDecodeRefusesTrailingCloser(t *testing.T) {
	for _, body := range []string{
		`{"refresh_token": "x"}}`,
		`{"refresh_token": "x"}]`,
		`{"refresh_token": "x"} }`,
		`{"refresh_token": "x"} {}`,
	} {
		var v struct {
			RefreshToken string `json:"refresh_token"`
		}
		err := decode(strings.NewReader(body), &v)
		if !errors.Is(err, app.ErrInvalid) {
			t.Errorf("decode(%q) = %v, want an error wrapping app.ErrInvalid (data after the JSON object)", body, err)
		}
	}
	// Trailing white space is fine.
	var v struct{}
	if err := decode(strings.NewReader("{} \n\t"), &v); err != nil {
		t.Errorf("decode with trailing space: %v", err)
	}
}
