package sessions

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// The stored value of a session is a small JSON object:
//
//	{"uid":"u","fam":"f","iat":1700000000000,"exp":1700003600000,"meta":{"ip":"…"}}
//
// uid is the owner (checked against the key's user on every read), fam the
// rotation family, iat and exp Unix milliseconds, meta omitted when empty.
// It holds no session ID: the key does.

// wire is the value's shape for encoding/json, used off the hot path.
type wire struct {
	UID  string            `json:"uid"`
	Fam  string            `json:"fam"`
	Iat  int64             `json:"iat"`
	Exp  int64             `json:"exp"`
	Meta map[string]string `json:"meta,omitempty"`
}

// Reasons a stored value is corrupt, for the WARN log.
var (
	errCorrupt   = errors.New("not a session value")
	errOtherUser = errors.New("value belongs to another user")
	errBadMember = errors.New("index member is not an escaped ID")
)

// encodeParts returns s's value split around the family's JSON string, so
// that rotate.lua can put the old session's family in between without
// re-encoding the rest (Lua's cjson would rewrite the numbers).
func encodeParts(s Session) (head, tail string) {
	head = valueHead(s.UserID)
	var b strings.Builder
	b.WriteString(`,"iat":`)
	b.WriteString(strconv.FormatInt(s.IssuedAt.UnixMilli(), 10))
	b.WriteString(`,"exp":`)
	b.WriteString(strconv.FormatInt(s.ExpiresAt.UnixMilli(), 10))
	if len(s.Meta) > 0 {
		meta, _ := json.Marshal(s.Meta) // a map[string]string always encodes
		b.WriteString(`,"meta":`)
		b.Write(meta)
	}
	b.WriteByte('}')
	return head, b.String()
}

// valueHead is how every stored value of userID starts, up to and
// including the family's member name: {"uid":<userID as JSON>,"fam":
// (revoke_family in scripts/lib.lua matches a family by it).
func valueHead(userID string) string {
	return `{"uid":` + jsonString(userID) + `,"fam":`
}

// encodeValue returns s's stored value.
func encodeValue(s Session) string {
	head, tail := encodeParts(s)
	return head + jsonString(s.FamilyID) + tail
}

func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}

// decodeValue decodes the stored value raw of session (userID, id). It
// accepts exactly what activeExpiry accepts as well formed, so IsActive
// and ListForUser agree on which sessions exist; expiry is the caller's
// check.
func decodeValue(raw, userID, id string) (Session, error) {
	exp, err := activeExpiry(raw, userID)
	if err != nil {
		return Session{}, err
	}
	var w wire
	if err := json.Unmarshal([]byte(raw), &w); err != nil || w.UID != userID || w.Exp != exp {
		return Session{}, errCorrupt // encoding/json read it otherwise
	}
	s := Session{
		ID:        id,
		UserID:    userID,
		FamilyID:  w.Fam,
		IssuedAt:  unixMilli(w.Iat),
		ExpiresAt: unixMilli(w.Exp),
	}
	if len(w.Meta) > 0 {
		s.Meta = w.Meta
	}
	return s, nil
}
