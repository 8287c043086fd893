package sessions_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/sessions"
	"github.com/sytefy/kit/sessions/sessionstest"
)

func TestMemoryStoreConformance(t *testing.T) {
	sessionstest.Run(t, func(t *testing.T, opts ...sessions.Option) sessionstest.Harness {
		s, err := sessions.NewMemoryStore(opts...)
		require.NoError(t, err)
		return sessionstest.Harness{
			Store: s,
			Keys: func(context.Context) (map[string]time.Duration, error) {
				return sessions.MemoryKeys(s), nil
			},
		}
	})
}
