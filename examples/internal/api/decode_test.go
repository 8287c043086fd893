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

// TestDecodeNamesANonObjectBody: a body that is JSON but not an object
// gets an error that says so, not Go's type names.
func TestDecodeNamesANonObjectBody(t *testing.T) {
	for body, want := range map[string]string{
		`[1]`:   "body must be a JSON object, not a JSON array",
		`"str"`: "body must be a JSON object, not a JSON string",
		`5`:     "body must be a JSON object, not a JSON number",
	} {
		var v struct {
			Title string `json:"title"`
		}
		err := decode(strings.NewReader(body), &v)
		if !errors.Is(err, app.ErrInvalid) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "struct") {
			t.Errorf("decode(%q) = %v, want an ErrInvalid saying %q", body, err, want)
		}
	}
}
