package sessions_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: the
// stores start none, and every client and server a test opens is closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
