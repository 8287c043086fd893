package sessions

import (
	"context"
	"time"
)

// Session is one refresh session: the server-side record of one issued
// refresh token.
type Session struct {
	// ID is the refresh token's ID (JWT "jti"): 1..256 bytes of UTF-8
	// without control characters. It is a bearer secret's handle, so this
	// package never logs it in clear.
	ID string
	// UserID is the owner (JWT "sub"), with the same limits as ID.
	UserID string
	// FamilyID names the rotation chain the session belongs to: Rotate
	// gives the successor the old session's FamilyID, and reuse of a rotated
	// ID revokes the whole family. "" on Remember means ID (a new chain).
	FamilyID string
	// IssuedAt is when the token was issued (JWT "iat"); zero on Remember
	// means now. It must not be before 1970 (a JWT NumericDate counts from
	// the Unix epoch; an earlier one is a bug, such as a zero-ish time
	// from another type) and must be before ExpiresAt. It may be in the
	// future: the token's issuer may run on a host whose clock is ahead of
	// the store's, and IssuedAt plays no part in whether the session is
	// active (only ExpiresAt does); it is kept for ListForUser. Stored to
	// the millisecond (truncated).
	IssuedAt time.Time
	// ExpiresAt is the absolute expiry: the session is inactive from this
	// instant on. It must be after now and after IssuedAt. Stored to the
	// millisecond (truncated, so a session never outlives its ExpiresAt).
	ExpiresAt time.Time
	// Meta holds optional labels (device, IP, user agent): at most
	// MaxMetaEntries entries, MaxMetaBytes bytes of keys and values in all.
	// Keys are 1..MaxMetaKeyLen bytes of ASCII letters, digits, '_', '-'
	// and '.' (names like "user_agent"); values are any UTF-8.
	Meta map[string]string
}

// Store keeps refresh sessions. Every method takes the user ID beside the
// session ID, as a refresh token carries both ("sub" and "jti"): a user
// can only reach their own sessions, and the Redis store keeps all of a
// user's keys in one hash slot.
//
// Implementations are safe for concurrent use by any number of goroutines
// and, for shared backends, processes. Every method returns an error
// wrapping ErrInvalid for bad arguments (nothing is written), and one
// wrapping ErrUnavailable when the backend fails or ctx ends first.
type Store interface {
	// Remember stores s. Remembering an ID that is already stored replaces
	// it. An ID that was rotated or revoked is spent until its session's
	// own expiry, and Remember refuses it with an error wrapping ErrInvalid
	// (field ID; the message says "rotated already" or "revoked
	// already"), writing nothing, as Rotate refuses it for a successor. A
	// rotated ID stored again would be active, and its reuse no longer
	// detected; a revoked one would undo its revocation, which a Remember
	// that reaches the backend late (a client's first attempt, delayed on
	// the way, arriving after its retry succeeded and after a Revoke) must
	// not do. When the user already has the maximum number of sessions
	// (WithMaxSessionsPerUser), the one that expires first, other than s,
	// is evicted (EventEvicted).
	Remember(ctx context.Context, s Session) error

	// IsActive reports whether the session is stored, not revoked and not
	// expired. An unknown ID, another user's ID or a stored value that
	// cannot be decoded is inactive (false, nil). On a backend error it
	// returns false and an error wrapping ErrUnavailable: never true.
	IsActive(ctx context.Context, userID, id string) (bool, error)

	// Revoke ends one session. Revoking a rotated ID (until its own
	// expiry) ends its family instead: the session it was rotated into
	// and every other session of the same login. A spent refresh token is
	// presented by a client that missed its rotation or by whoever stole
	// it, and a logout with it must end the login either way (RFC 9700
	// §4.14.2); Rotate with the ID stays reuse. Revoking an unknown,
	// expired, already revoked or other user's ID returns nil and changes
	// nothing.
	//
	// Every active session it ends leaves a tombstone until that
	// session's own expiry: its ID is spent, and Remember refuses it (see
	// Remember), so that no Remember, however late it reaches the backend,
	// makes it active again. Rotate with it gets ErrNotActive.
	Revoke(ctx context.Context, userID, id string) error

	// RevokeAllForUser ends every session of the user ("log out
	// everywhere") and returns how many were active. When it returns, no
	// session remembered or rotated before the call started is active on
	// any instance. A stored value that cannot be decoded (written by
	// something else) is deleted too, and may count: the Redis store
	// counts by expiry, without reading the values. As with Revoke, each
	// active session ended leaves a tombstone until its own expiry, so its
	// ID is spent: Remember refuses it. New IDs of the user are not
	// affected.
	RevokeAllForUser(ctx context.Context, userID string) (int, error)

	// Rotate spends the session oldID and creates its successor next
	// (refresh token rotation). next.UserID must be userID or ""; the
	// successor takes the old session's FamilyID (next.FamilyID must be ""
	// or equal to it), and its Meta when next.Meta is empty (labels such
	// as a device name then last the whole login; set next.Meta to replace
	// them); next.ID must not be in use, by a session or as a spent
	// (rotated or revoked) ID. The returned Session is the
	// stored successor.
	//
	// Of any number of concurrent calls for one oldID, on any number of
	// instances, exactly one creates a successor. Errors:
	//   - ErrNotActive: oldID is unknown, expired or revoked.
	//   - ErrReuseDetected: oldID was already rotated. Every session of its
	//     family is revoked. Within the rotation grace (WithRotationGrace),
	//     if oldID's successor is still the current session (not rotated,
	//     revoked or expired, nor replaced by a session of another family
	//     under the same ID), Rotate instead returns that successor,
	//     creating nothing (for a client that lost the first response);
	//     older generations are always reuse.
	//   - ErrUnavailable: the outcome is unknown. The rotation may have
	//     happened (Redis ran the script after the client gave up at its
	//     deadline), so the client's retry with the same token is then
	//     reuse, and its family is revoked, unless it comes within the
	//     rotation grace. Set WithRotationGrace to a few seconds when
	//     clients retry a failed refresh.
	Rotate(ctx context.Context, userID, oldID string, next Session) (Session, error)

	// ListForUser returns the user's active sessions, soonest expiry first
	// (ties by ID). The slice and its Meta maps are the caller's.
	ListForUser(ctx context.Context, userID string) ([]Session, error)
}
