package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sytefy/kit/internal/redistest"
	"github.com/sytefy/kit/sessions"
)

// The benchmarks run each operation on both backends, one call at a time
// (latency) and from 8 goroutines per GOMAXPROCS, 16 on 2 cores
// (throughput), and report Redis round trips per operation. The
// Redis backend is miniredis by default, whose figures say little about a
// real server; run them against one with
//
//	REDIS_URL=redis://127.0.0.1:6379/0 go test -run '^$' -bench . -benchmem ./sessions
//
// examples/bench compares the same operations with raw GET and EVALSHA.
//
// trips/op is 1 for every operation. A server that has not yet cached a
// script (a new miniredis, each node of a cluster) answers its first call
// NOSCRIPT, and go-redis sends it again as EVAL: 2 trips for that call,
// which shows in trips/op only with a tiny -benchtime such as 1x.

// benchBackend is one store under benchmark.
type benchBackend struct {
	name  string
	store sessions.Store
	trips *redistest.TripCounter // nil for memory
}

func benchBackends(b *testing.B) []benchBackend {
	b.Helper()
	mem, err := sessions.NewMemoryStore()
	if err != nil {
		b.Fatal(err)
	}
	r := redistest.New(b)
	trips := &redistest.TripCounter{}
	r.Client.AddHook(trips)
	rs, err := sessions.NewRedisStore(r.Client, sessions.WithKeyPrefix(r.Prefix))
	if err != nil {
		b.Fatal(err)
	}
	return []benchBackend{{name: "memory", store: mem}, {name: string(r.Mode), store: rs, trips: trips}}
}

// benchSeq makes IDs unique across benchmarks and goroutines.
var benchSeq atomic.Int64

func benchID(tag string) string { return tag + strconv.FormatInt(benchSeq.Add(1), 36) }

func benchSession(userID, id string) sessions.Session {
	return sessions.Session{ID: id, UserID: userID, ExpiresAt: time.Now().Add(time.Hour),
		Meta: map[string]string{"device": "iPhone 15", "ip": "203.0.113.7"}}
}

// runBoth runs an operation serially and from 16 goroutines on every
// backend, and reports round trips per operation on Redis. setup runs
// untimed, once per goroutine, and returns that goroutine's operation.
func runBoth(b *testing.B, setup func(b *testing.B, s sessions.Store) func(ctx context.Context) error) {
	const parallelism = 8 // goroutines per GOMAXPROCS: 16 on 2 cores
	for _, be := range benchBackends(b) {
		for _, mode := range []string{"serial", "parallel"} {
			b.Run(be.name+"/"+mode, func(b *testing.B) {
				ctx := context.Background()
				n := 1
				if mode == "parallel" {
					n = parallelism * runtime.GOMAXPROCS(0)
				}
				ops := make([]func(context.Context) error, n)
				for i := range ops {
					ops[i] = setup(b, be.store)
				}
				var trips0 int64
				if be.trips != nil {
					trips0 = be.trips.Trips()
				}
				b.ReportAllocs()
				b.ResetTimer()
				if mode == "serial" {
					for range b.N {
						if err := ops[0](ctx); err != nil {
							b.Fatal(err)
						}
					}
				} else {
					var next atomic.Int64
					b.SetParallelism(parallelism)
					b.RunParallel(func(pb *testing.PB) {
						op := ops[next.Add(1)-1]
						for pb.Next() {
							if err := op(ctx); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				b.StopTimer()
				if be.trips != nil {
					b.ReportMetric(float64(be.trips.Trips()-trips0)/float64(b.N), "trips/op")
				}
			})
		}
	}
}

func BenchmarkIsActive(b *testing.B) {
	runBoth(b, func(b *testing.B, s sessions.Store) func(context.Context) error {
		// 64 active sessions per goroutine, read in turn.
		var list []sessions.Session
		for range 64 {
			sess := benchSession(benchID("u"), benchID("a"))
			if err := s.Remember(context.Background(), sess); err != nil {
				b.Fatal(err)
			}
			list = append(list, sess)
		}
		i := 0
		return func(ctx context.Context) error {
			i++
			sess := list[i%len(list)]
			ok, err := s.IsActive(ctx, sess.UserID, sess.ID)
			if err == nil && !ok {
				b.Error("a remembered session is not active")
			}
			return err
		}
	})
}

func BenchmarkRemember(b *testing.B) {
	runBoth(b, func(b *testing.B, s sessions.Store) func(context.Context) error {
		// Spread over 1,000 users, so that each user's index stays small.
		users := make([]string, 1000)
		for i := range users {
			users[i] = benchID("u")
		}
		i := 0
		return func(ctx context.Context) error {
			i++
			return s.Remember(ctx, benchSession(users[i%len(users)], benchID("m")))
		}
	})
}

func BenchmarkRotate(b *testing.B) {
	runBoth(b, func(b *testing.B, s sessions.Store) func(context.Context) error {
		// One chain: every call rotates the current session into a new one,
		// as a client refreshing its token does.
		cur := benchSession(benchID("u"), benchID("t"))
		if err := s.Remember(context.Background(), cur); err != nil {
			b.Fatal(err)
		}
		return func(ctx context.Context) error {
			next, err := s.Rotate(ctx, cur.UserID, cur.ID, benchSession(cur.UserID, benchID("t")))
			cur = next
			return err
		}
	})
}

// BenchmarkRevokeAllForUser revokes a user with 20 sessions per operation,
// serially only: the 20 Remember calls before each are not timed, which a
// parallel benchmark could not separate. They make the run take about 20
// times the timed part; -benchtime=2000x keeps it short.
func BenchmarkRevokeAllForUser(b *testing.B) {
	const perUser = 20
	for _, be := range benchBackends(b) {
		b.Run(be.name+"/serial", func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			var trips int64
			for range b.N {
				b.StopTimer()
				u := benchID("u")
				for range perUser {
					if err := be.store.Remember(ctx, benchSession(u, benchID("v"))); err != nil {
						b.Fatal(err)
					}
				}
				var t0 int64
				if be.trips != nil {
					t0 = be.trips.Trips()
				}
				b.StartTimer()
				n, err := be.store.RevokeAllForUser(ctx, u)
				if err != nil {
					b.Fatal(err)
				}
				if n != perUser {
					b.Fatalf("revoked %d sessions, want %d", n, perUser)
				}
				if be.trips != nil {
					trips += be.trips.Trips() - t0
				}
			}
			if be.trips != nil {
				b.ReportMetric(float64(trips)/float64(b.N), "trips/op")
			}
		})
	}
}

// BenchmarkRevokeFamily1000 measures reuse detection for a user at the
// default session limit: 1,000 sessions, each with a 4 KiB Meta that is the
// strict decoder's worst case (every byte '<', which JSON writes as the
// six-byte escape \u003c). Each operation remembers a session, rotates it
// (both untimed) and presents the spent ID again (timed): that Rotate walks
// all 1,000 sessions to revoke the family while Redis waits. The walk
// compares each value's first bytes with the family's canonical prefix,
// never decoding one, so its cost does not grow with Meta; decoding each
// value took about 1.1 ms, over a second for the walk.
func BenchmarkRevokeFamily1000(b *testing.B) {
	const others = 998 // with the chain's two sessions: 1,000
	heavy := map[string]string{}
	for i := range sessions.MaxMetaEntries {
		heavy[fmt.Sprintf("k%02d", i)] = strings.Repeat("<", sessions.MaxMetaBytes/sessions.MaxMetaEntries-3)
	}
	for _, be := range benchBackends(b) {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			u := benchID("u")
			exp := time.Now().Add(time.Hour)
			for range others {
				s := sessions.Session{ID: benchID("o"), UserID: u, ExpiresAt: exp, Meta: heavy}
				if err := be.store.Remember(ctx, s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				root := sessions.Session{ID: benchID("r"), UserID: u, ExpiresAt: exp, Meta: heavy}
				if err := be.store.Remember(ctx, root); err != nil {
					b.Fatal(err)
				}
				next := sessions.Session{ID: benchID("n"), ExpiresAt: exp, Meta: heavy}
				if _, err := be.store.Rotate(ctx, u, root.ID, next); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				_, err := be.store.Rotate(ctx, u, root.ID, sessions.Session{ID: benchID("x"), ExpiresAt: exp})
				if !errors.Is(err, sessions.ErrReuseDetected) {
					b.Fatalf("presenting a spent ID: %v, want reuse detected", err)
				}
			}
		})
	}
}
