package reminders_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine is left running
// after them: workers, Periodic's gocron scheduler and test helpers must
// all stop when their context ends or Shutdown returns. This is the only
// TestMain of package reminders (internal and external tests share it).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
