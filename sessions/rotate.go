package sessions

import "context"

// Outcomes of a rotation, shared by both stores; the Redis store reads
// them from rotate.lua's reply, which uses the same words.
const (
	rotRotated        = "rotated"
	rotGrace          = "grace"
	rotReuse          = "reuse"
	rotNotActive      = "not_active"
	rotCorrupt        = "corrupt"
	rotFamilyMismatch = "family_mismatch"
	rotNextExists     = "next_exists"
)

// rotation is what a backend decided for one Rotate call.
type rotation struct {
	outcome   string
	successor Session // rotRotated, rotGrace
	revoked   int     // rotReuse: active sessions of the family revoked
	family    string  // rotReuse
}

// finishRotate turns a rotation into Rotate's result, with its log record
// and event.
func (c core) finishRotate(ctx context.Context, userID, oldID string, r rotation) (Session, error) {
	switch r.outcome {
	case rotRotated:
		c.observe(EventRotated, 0)
		return r.successor, nil
	case rotGrace:
		return r.successor, nil
	case rotReuse:
		return Session{}, c.reuse(ctx, userID, oldID, r.family, r.revoked)
	case rotCorrupt:
		c.corrupt(ctx, "Rotate", userID, oldID, errCorrupt)
		return Session{}, ErrNotActive
	case rotFamilyMismatch:
		return Session{}, invalid("next.FamilyID", "not the old session's family")
	case rotNextExists:
		return Session{}, invalid("next.ID", "already in use")
	}
	return Session{}, ErrNotActive
}

// errSpent is Remember's error for an ID that was rotated: a spent refresh
// token stays spent until its session's own expiry, when its tombstone
// goes (reuse of it must still be detected meanwhile).
var errSpent = invalid("ID", "rotated already: a spent refresh token's ID is not remembered again")

// errRevokedID is Remember's error for an ID whose session was revoked
// (Revoke, RevokeAllForUser, or reuse detection revoking its family): it
// stays spent until that session's own expiry, when its tombstone goes,
// so that a Remember that reaches the backend late (a client's retry
// whose first attempt arrives last) cannot undo the revocation.
var errRevokedID = invalid("ID", "revoked already: a revoked session's ID is not remembered again before its expiry")
