package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sytefy/kit/sessions"
)

// A fixed clock keeps the examples' output the same on every run.
var exampleNow = time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC)

func exampleClock() time.Time { return exampleNow }

// Remember a refresh session at login, check it on refresh, revoke it at
// logout.
func ExampleMemoryStore() {
	ctx := context.Background()
	store, err := sessions.NewMemoryStore(sessions.WithClock(exampleClock))
	if err != nil {
		log.Fatal(err)
	}
	err = store.Remember(ctx, sessions.Session{
		ID:        "jti-1", // the refresh token's "jti"
		UserID:    "user-42",
		ExpiresAt: exampleNow.Add(30 * 24 * time.Hour),
		Meta:      map[string]string{"user_agent": "curl/8.5"},
	})
	if err != nil {
		log.Fatal(err)
	}
	active, err := store.IsActive(ctx, "user-42", "jti-1")
	fmt.Println("active after login:", active, err)

	if err := store.Revoke(ctx, "user-42", "jti-1"); err != nil {
		log.Fatal(err)
	}
	active, err = store.IsActive(ctx, "user-42", "jti-1")
	fmt.Println("active after logout:", active, err)
	// Output:
	// active after login: true <nil>
	// active after logout: false <nil>
}

// Rotate a refresh token; presenting the spent one again is reuse, and
// revokes the whole family.
func ExampleMemoryStore_Rotate() {
	ctx := context.Background()
	store, err := sessions.NewMemoryStore(sessions.WithClock(exampleClock))
	if err != nil {
		log.Fatal(err)
	}
	exp := exampleNow.Add(30 * 24 * time.Hour)
	if err := store.Remember(ctx, sessions.Session{ID: "jti-1", UserID: "user-42", ExpiresAt: exp}); err != nil {
		log.Fatal(err)
	}

	next, err := store.Rotate(ctx, "user-42", "jti-1", sessions.Session{ID: "jti-2", ExpiresAt: exp})
	fmt.Println("rotated to", next.ID, "in family", next.FamilyID, err)

	// A stolen copy of jti-1 is presented.
	_, err = store.Rotate(ctx, "user-42", "jti-1", sessions.Session{ID: "jti-3", ExpiresAt: exp})
	fmt.Println("reuse:", errors.Is(err, sessions.ErrReuseDetected))
	active, _ := store.IsActive(ctx, "user-42", "jti-2")
	fmt.Println("jti-2 active:", active)
	// Output:
	// rotated to jti-2 in family jti-1 <nil>
	// reuse: true
	// jti-2 active: false
}

// With a rotation grace, a client that lost the response to its refresh
// and retries gets the same successor back instead of being logged out.
func ExampleWithRotationGrace() {
	ctx := context.Background()
	store, err := sessions.NewMemoryStore(sessions.WithClock(exampleClock), sessions.WithRotationGrace(10*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	exp := exampleNow.Add(time.Hour)
	if err := store.Remember(ctx, sessions.Session{ID: "jti-1", UserID: "user-42", ExpiresAt: exp}); err != nil {
		log.Fatal(err)
	}
	first, _ := store.Rotate(ctx, "user-42", "jti-1", sessions.Session{ID: "jti-2", ExpiresAt: exp})
	retry, err := store.Rotate(ctx, "user-42", "jti-1", sessions.Session{ID: "jti-2b", ExpiresAt: exp})
	fmt.Println(first.ID, retry.ID, err)
	// Output: jti-2 jti-2 <nil>
}

// Log out everywhere: every session of the user ends, on every instance.
func ExampleMemoryStore_RevokeAllForUser() {
	ctx := context.Background()
	store, err := sessions.NewMemoryStore(sessions.WithClock(exampleClock))
	if err != nil {
		log.Fatal(err)
	}
	for i, device := range []string{"phone", "laptop"} {
		err := store.Remember(ctx, sessions.Session{
			ID: fmt.Sprint("jti-", i), UserID: "user-42", ExpiresAt: exampleNow.Add(time.Hour),
			Meta: map[string]string{"device": device},
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	list, _ := store.ListForUser(ctx, "user-42")
	for _, s := range list {
		fmt.Println(s.ID, s.Meta["device"], s.ExpiresAt.Format(time.RFC3339))
	}
	n, err := store.RevokeAllForUser(ctx, "user-42")
	fmt.Println("revoked:", n, err)
	// Output:
	// jti-0 phone 2025-01-02T16:04:05Z
	// jti-1 laptop 2025-01-02T16:04:05Z
	// revoked: 2 <nil>
}

// The Redis store takes the application's client and never closes it.
// ContextTimeoutEnabled lets each call's context bound it, so that a hung
// Redis fails closed within the request's deadline.
func ExampleNewRedisStore() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer client.Close()
	store, err := sessions.NewRedisStore(client, sessions.WithRotationGrace(5*time.Second))
	if err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	active, err := store.IsActive(ctx, "user-42", "jti-1")
	if err != nil { // sessions.ErrUnavailable: refuse the request
		log.Print(err)
	}
	_ = active
}
