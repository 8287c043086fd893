package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/sessions"
)

// diffClock is the stores' clock, moved by the test only.
type diffClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *diffClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *diffClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// errClass names an error by its sentinel, with its message.
func errClass(err error) string {
	switch {
	case err == nil:
		return "nil"
	case errors.Is(err, sessions.ErrInvalid):
		return "invalid: " + err.Error()
	case errors.Is(err, sessions.ErrNotActive):
		return "not_active"
	case errors.Is(err, sessions.ErrReuseDetected):
		return "reuse: " + err.Error()
	case errors.Is(err, sessions.ErrUnavailable):
		return "unavailable: " + err.Error()
	}
	return "other: " + err.Error()
}

// fmtList prints a listing, every field compared.
func fmtList(l []sessions.Session, err error) string {
	s := errClass(err)
	for _, x := range l {
		s += fmt.Sprintf(" [%s fam=%s iat=%d exp=%d meta=%v]", x.ID, x.FamilyID, x.IssuedAt.UnixMilli(), x.ExpiresAt.UnixMilli(), x.Meta)
	}
	return s
}

// TestMemoryAndRedisAgree runs random operation sequences on a
// MemoryStore and a RedisStore driven by one clock and compares every
// answer, error messages and listings included. It needs the server's
// clock to advance with the stores' (Redis runs TTLs down on its own):
// miniredis, whose time is set with SetTime and whose TTLs run down only
// by FastForward.
// DIFF_SEEDS sets the number of sequences.
func TestMemoryAndRedisAgree(t *testing.T) {
	users := []string{"u", "a}:b", "a"}
	ids := []string{"a", "b", "c", "d", "e", "b}:x", "x", "%", "%25"}
	for seed := range uint64(diffSeeds()) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			r := redistest.New(t)
			if r.Mini == nil {
				t.Skip("needs miniredis: a real server's clock is not the test's")
			}
			clk := &diffClock{now: time.UnixMilli(time.Now().UnixMilli())}
			r.Mini.SetTime(clk.Now())
			grace := time.Duration(0)
			if seed%2 == 1 {
				grace = 150 * time.Millisecond
			}
			opts := []sessions.Option{sessions.WithClock(clk.Now), sessions.WithMaxSessionsPerUser(3), sessions.WithRotationGrace(grace)}
			mem, err := sessions.NewMemoryStore(opts...)
			require.NoError(t, err)
			red, err := sessions.NewRedisStore(r.Client, append([]sessions.Option{sessions.WithKeyPrefix(r.Prefix)}, opts...)...)
			require.NoError(t, err)
			ctx := context.Background()
			var trace []string
			for step := range 200 {
				u := users[rng.IntN(len(users))]
				id := ids[rng.IntN(len(ids))]
				var a, b, op string
				switch k := rng.IntN(10); k {
				case 0, 1:
					s := sessions.Session{ID: id, UserID: u, ExpiresAt: clk.Now().Add(time.Duration(1+rng.IntN(8)) * 100 * time.Millisecond)}
					if rng.IntN(4) == 0 {
						s.FamilyID = ids[rng.IntN(len(ids))]
					}
					s.Meta = randMeta(rng)
					op = fmt.Sprintf("Remember(%q,%q,fam=%q,exp=+%s)", u, id, s.FamilyID, s.ExpiresAt.Sub(clk.Now()))
					a, b = errClass(mem.Remember(ctx, s)), errClass(red.Remember(ctx, s))
				case 2, 3:
					op = fmt.Sprintf("IsActive(%q,%q)", u, id)
					x, e1 := mem.IsActive(ctx, u, id)
					y, e2 := red.IsActive(ctx, u, id)
					a, b = fmt.Sprint(x, errClass(e1)), fmt.Sprint(y, errClass(e2))
				case 4:
					op = fmt.Sprintf("Revoke(%q,%q)", u, id)
					a, b = errClass(mem.Revoke(ctx, u, id)), errClass(red.Revoke(ctx, u, id))
				case 5:
					op = fmt.Sprintf("RevokeAll(%q)", u)
					x, e1 := mem.RevokeAllForUser(ctx, u)
					y, e2 := red.RevokeAllForUser(ctx, u)
					a, b = fmt.Sprint(x, errClass(e1)), fmt.Sprint(y, errClass(e2))
				case 6, 7:
					next := sessions.Session{ID: ids[rng.IntN(len(ids))], ExpiresAt: clk.Now().Add(time.Duration(1+rng.IntN(8)) * 100 * time.Millisecond), Meta: randMeta(rng)}
					op = fmt.Sprintf("Rotate(%q,%q->%q,exp=+%s)", u, id, next.ID, next.ExpiresAt.Sub(clk.Now()))
					x, e1 := mem.Rotate(ctx, u, id, next)
					y, e2 := red.Rotate(ctx, u, id, next)
					a = fmt.Sprintf("%s %s %s %d %d %#v", errClass(e1), x.ID, x.FamilyID, x.IssuedAt.UnixMilli(), x.ExpiresAt.UnixMilli(), x.Meta)
					b = fmt.Sprintf("%s %s %s %d %d %#v", errClass(e2), y.ID, y.FamilyID, y.IssuedAt.UnixMilli(), y.ExpiresAt.UnixMilli(), y.Meta)
				case 8:
					op = fmt.Sprintf("List(%q)", u)
					a, b = fmtList(mem.ListForUser(ctx, u)), fmtList(red.ListForUser(ctx, u))
				case 9:
					d := time.Duration(rng.IntN(60)) * 5 * time.Millisecond
					op = fmt.Sprintf("step(%s)", d)
					clk.Add(d)
					r.Mini.SetTime(clk.Now())
					r.FastForward(d)
				}
				trace = append(trace, fmt.Sprintf("%3d %s => mem %s", step, op, a))
				if a != b {
					for _, l := range trace {
						t.Log(l)
					}
					t.Fatalf("step %d %s: memory %q, redis %q", step, op, a, b)
				}
			}
		})
	}
}

func randMeta(rng *rand.Rand) map[string]string {
	switch rng.IntN(6) {
	case 0:
		return map[string]string{"ip": "1.2.3.4"}
	case 1:
		return map[string]string{}
	case 2:
		return map[string]string{"d": "\u2028\x00\"\\</>&é\U0001F600", "k.-_": ""}
	case 3:
		m := map[string]string{}
		for i := range 16 {
			m[fmt.Sprintf("%064d", i)] = strings.Repeat("x", 4096/16-64)
		}
		return m
	}
	return nil
}

// diffSeeds is DIFF_SEEDS, or 60.
func diffSeeds() int {
	if n, err := strconv.Atoi(os.Getenv("DIFF_SEEDS")); err == nil {
		return n
	}
	return 60
}
