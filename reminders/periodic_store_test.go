package reminders_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/reminders"
)

// Both TickStores keep the same contract: marks only move forward, and of
// concurrent claims of one tick exactly one wins.
func TestTickStores(t *testing.T) {
	stores := map[string]func(t *testing.T) reminders.TickStore{
		"Memory": func(*testing.T) reminders.TickStore { return reminders.NewMemoryTickStore() },
		"Redis": func(t *testing.T) reminders.TickStore {
			r := redistest.New(t)
			s, err := reminders.NewRedisTickStore(r.Client, reminders.WithKeyPrefix(r.Prefix))
			require.NoError(t, err)
			return s
		},
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			t.Run("MarksMoveForward", func(t *testing.T) {
				s := newStore(t)
				ctx := ctxT(t)
				t1 := time.Date(2025, 5, 1, 10, 1, 0, 0, time.UTC)
				t2 := t1.Add(time.Minute)

				claimed, done, err := s.Marks(ctx, "job")
				require.NoError(t, err)
				assert.True(t, claimed.IsZero() && done.IsZero(), "no marks yet")

				for _, c := range []struct {
					tick time.Time
					won  bool
				}{{t1, true}, {t1, false}, {t2, true}, {t1, false}, {t2, false}} {
					won, err := s.Claim(ctx, "job", c.tick)
					require.NoError(t, err)
					assert.Equal(t, c.won, won, "Claim(%s)", c.tick.Format(time.Kitchen))
				}
				require.NoError(t, s.Done(ctx, "job", t1))
				require.NoError(t, s.Done(ctx, "job", t2))
				require.NoError(t, s.Done(ctx, "job", t1)) // never backwards
				claimed, done, err = s.Marks(ctx, "job")
				require.NoError(t, err)
				assert.True(t, t2.Equal(claimed), "claimed %s", claimed)
				assert.True(t, t2.Equal(done), "done %s", done)

				// Names are independent.
				claimed, _, err = s.Marks(ctx, "other")
				require.NoError(t, err)
				assert.True(t, claimed.IsZero())
			})
			t.Run("ConcurrentClaimsOneWinner", func(t *testing.T) {
				s := newStore(t)
				ctx := ctxT(t)
				for i := range 5 {
					tick := time.Date(2025, 5, 1, 10, i, 0, 0, time.UTC)
					var wins atomic.Int32
					var wg sync.WaitGroup
					start := make(chan struct{})
					for range 16 {
						wg.Add(1)
						go func() {
							defer wg.Done()
							<-start
							won, err := s.Claim(ctx, "race", tick)
							assert.NoError(t, err)
							if won {
								wins.Add(1)
							}
						}()
					}
					close(start)
					wg.Wait()
					assert.EqualValues(t, 1, wins.Load(), "winners of tick %d", i)
				}
			})
		})
	}
}

// One key per recurring reminder, under the scheduler's prefix.
func TestRedisTickStoreLayout(t *testing.T) {
	r := redistest.New(t)
	s, err := reminders.NewRedisTickStore(r.Client, reminders.WithKeyPrefix(r.Prefix))
	require.NoError(t, err)
	ctx := ctxT(t)
	_, err = s.Claim(ctx, "daily {digest}:x", time.Now())
	require.NoError(t, err)
	keys, err := r.Keys(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{r.Prefix + ":periodic:daily {digest}:x"}, keys)
}

func TestNewRedisTickStoreRejects(t *testing.T) {
	_, err := reminders.NewRedisTickStore(nil)
	assert.ErrorIs(t, err, reminders.ErrInvalid)
	_, err = reminders.NewRedisTickStore((*redis.Client)(nil))
	assert.ErrorIs(t, err, reminders.ErrInvalid, "a typed nil client")
	r := redistest.New(t)
	_, err = reminders.NewRedisTickStore(r.Client, reminders.WithKeyPrefix("a:b"))
	assert.ErrorIs(t, err, reminders.ErrInvalid)
}

// A Redis that does not answer: every operation fails with ErrUnavailable
// within its context.
func TestRedisTickStoreUnavailable(t *testing.T) {
	srv := redistest.StartServer(t)
	s, err := reminders.NewRedisTickStore(srv.Client())
	require.NoError(t, err)
	srv.Pause()
	defer srv.Resume()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = s.Claim(ctx, "job", time.Now())
	assert.ErrorIs(t, err, reminders.ErrUnavailable)
	assert.ErrorIs(t, s.Done(ctx, "job", time.Now()), reminders.ErrUnavailable)
	_, _, err = s.Marks(ctx, "job")
	assert.ErrorIs(t, err, reminders.ErrUnavailable)
}
