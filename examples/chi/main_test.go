package main

import (
	"testing"

	"github.com/sytefy/kit/examples/internal/e2e"
)

func TestMain(m *testing.M) { e2e.Main(m) }

// TestE2E drives the chi program's router over HTTP: login, rotation and
// reuse detection, concurrent refresh, logout, logout-all, reminders,
// validation, and a failing Redis.
func TestE2E(t *testing.T) { e2e.Run(t, newHandler) }
