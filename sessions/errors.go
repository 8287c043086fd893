package sessions

import "errors"

// Sentinel errors. Every error this package returns wraps one of them;
// match with errors.Is.
var (
	// ErrInvalid reports bad input. The message goes on with the field's
	// name, then what is wrong ("sessions: invalid: next.ExpiresAt: not
	// after now"), never the value, which may be a token ID. Nothing was
	// written.
	//
	// Fields are named as the call spells them: a Session field by its Go
	// name (ID, UserID, FamilyID, IssuedAt, ExpiresAt, Meta), with "next."
	// before it for Rotate's successor (next.ID); a plain parameter by its
	// name in the Store method's signature (userID, id, oldID); an option
	// as "option WithX"; NewRedisStore's client as "client".
	ErrInvalid = errors.New("sessions: invalid")
	// ErrNotActive reports that Rotate was given an ID that is unknown,
	// expired or revoked (or whose stored value is corrupt).
	ErrNotActive = errors.New("sessions: not active")
	// ErrReuseDetected reports that Rotate was given an ID that had already
	// been rotated, outside the rotation grace: the token was replayed,
	// perhaps stolen, so every session of its family has been revoked
	// (RFC 9700, section 4.14.2).
	ErrReuseDetected = errors.New("sessions: refresh token reuse detected")
	// ErrUnavailable reports that the backend failed or the context ended
	// before it answered. The error also wraps the cause (a net.Error,
	// context.DeadlineExceeded, ...). IsActive returns false with it: the
	// store fails closed.
	ErrUnavailable = errors.New("sessions: unavailable")
)
