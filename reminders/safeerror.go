package reminders

import "fmt"

// safeError returns err, or, when err's Error method panics (a typed nil
// pointer returned as an error is the usual case: the interface is not
// nil, so the attempt failed, but Error dereferences nil), an error that
// wraps err with a fixed text. A handler's error is turned into text to be
// stored, logged and observed on a worker's goroutine, where such a panic
// would crash the process and every handler in it; this keeps it a failed
// attempt, and errors.Is and errors.As still see err.
func safeError(err error) error {
	if err == nil {
		return nil
	}
	if msg, ok := errorMessage(err); !ok {
		return &unprintableError{err: err, msg: msg}
	}
	return err
}

// errorMessage is err.Error(), or false and the panic's description.
func errorMessage(err error) (msg string, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			msg, ok = fmt.Sprintf("reminders: the handler's error (%T) panicked in its Error method: %v", err, v), false
		}
	}()
	return err.Error(), true
}

// unprintableError is a handler's error whose Error method panics.
type unprintableError struct {
	err error
	msg string
}

func (e *unprintableError) Error() string { return e.msg }
func (e *unprintableError) Unwrap() error { return e.err }
