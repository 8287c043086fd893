package app

import (
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// User is an account of the demo's user table.
type User struct {
	// ID is the stable user ID, the tokens' "sub" and the sessions' UserID.
	ID       string
	Username string
	hash     []byte
}

// Users is a tiny in-memory user table standing in for a database: "demo"
// (password "demo") always exists, and "alice" (password "wonderland")
// shows that users see only their own sessions and appointments. It is
// read-only after NewUsers and safe for concurrent use.
type Users struct {
	byName map[string]User
	// dummy is compared against when the username is unknown, so that a
	// login takes as long for a missing user as for a wrong password and
	// the timing does not reveal which usernames exist.
	dummy []byte
}

// NewUsers builds the table, hashing the passwords with bcrypt at cost
// (bcrypt.MinCost..bcrypt.MaxCost; tests use MinCost to stay fast).
func NewUsers(cost int) (*Users, error) {
	u := &Users{byName: make(map[string]User)}
	for _, s := range []struct{ id, name, password string }{
		{"u-demo", "demo", "demo"},
		{"u-alice", "alice", "wonderland"},
	} {
		h, err := bcrypt.GenerateFromPassword([]byte(s.password), cost)
		if err != nil {
			return nil, fmt.Errorf("%w: password cost %d: %v", ErrConfig, cost, err)
		}
		u.byName[s.name] = User{ID: s.id, Username: s.name, hash: h}
	}
	var err error
	if u.dummy, err = bcrypt.GenerateFromPassword([]byte("no such user"), cost); err != nil {
		return nil, fmt.Errorf("%w: password cost %d: %v", ErrConfig, cost, err)
	}
	return u, nil
}

// Check returns the user whose username and password match, or an error
// wrapping ErrUnauthorized that does not say which of the two was wrong.
func (u *Users) Check(username, password string) (User, error) {
	user, ok := u.byName[username]
	hash := user.hash
	if !ok {
		hash = u.dummy
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(password)); err != nil || !ok {
		return User{}, fmt.Errorf("%w: wrong username or password", ErrUnauthorized)
	}
	return user, nil
}
