package app

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

func TestUsersCheck(t *testing.T) {
	u, err := NewUsers(bcrypt.MinCost)
	require.NoError(t, err)
	demo, err := u.Check("demo", "demo")
	require.NoError(t, err)
	assert.Equal(t, "u-demo", demo.ID)

	for _, tc := range [][2]string{{"demo", "wrong"}, {"nobody", "demo"}, {"", ""}, {"demo", string(make([]byte, 100))}} {
		_, err := u.Check(tc[0], tc[1])
		assert.ErrorIs(t, err, ErrUnauthorized, "%q/%q", tc[0], tc[1])
	}
}
