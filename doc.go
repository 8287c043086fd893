// Package kit holds two building blocks for Go services that run as many
// instances behind a load balancer, where an in-memory map is not enough.
//
// Package [github.com/sytefy/kit/sessions] is a server-side store of
// refresh sessions, one per issued refresh token (keyed by its JWT "jti"),
// with Redis and memory backends. Logout, "log out everywhere" and refresh
// token rotation with reuse detection (RFC 9700) take effect on every
// instance at once, and the store fails closed: when Redis is down a token
// is never accepted.
//
// Package [github.com/sytefy/kit/reminders] is a delayed-job scheduler for
// reminders. The Redis backend keeps reminders in sorted sets and its
// workers deliver each due reminder at least once, never early, with
// retries, exponential backoff with jitter and a dead-letter set; an eager
// backend runs handlers synchronously for development and tests.
//
// Both are plain context.Context APIs that any HTTP framework calls from its
// handlers; the examples module shows net/http, chi, gin and echo.
package kit
