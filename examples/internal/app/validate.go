package app

import (
	"fmt"
	"unicode/utf8"
)

// checkText requires 1..max characters of valid UTF-8 without control
// characters, and names field in the error (wrapping ErrInvalid).
func checkText(field, s string, max int) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: %s is required", ErrInvalid, field)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, field)
	case utf8.RuneCountInString(s) > max:
		return fmt.Errorf("%w: %s is longer than %d characters", ErrInvalid, field, max)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("%w: %s has control character %U", ErrInvalid, field, r)
		}
	}
	return nil
}
