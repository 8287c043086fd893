package metrics_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test must stop what it starts: ReminderStats reads its source on a
// goroutine of its own, which must end when the source returns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
