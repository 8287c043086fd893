package metrics

import "errors"

// ErrInvalid reports a bad option: the message names the option and the
// value. Match it with errors.Is.
var ErrInvalid = errors.New("metrics: invalid")
