package app

import "errors"

// Sentinel errors of the application layer, matched with errors.Is. The
// HTTP layer maps them, and the library's, to status codes in one place
// (api.Status).
var (
	// ErrConfig is wrapped by every configuration error; the message names
	// the variable.
	ErrConfig = errors.New("config")
	// ErrInvalid reports bad input; the message names the field.
	ErrInvalid = errors.New("invalid request")
	// ErrUnauthorized reports missing, malformed, expired or wrong
	// credentials or tokens.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotFound reports an entity that does not exist or belongs to
	// another user (the two are not told apart, so IDs cannot be probed).
	ErrNotFound = errors.New("not found")
)
