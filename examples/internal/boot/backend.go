package boot

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// dial returns a client for rawURL: a Redis Cluster client when the URL
// lists more addresses with addr= query parameters
// ("redis://h1:7000?addr=h2:7001"), a single-server client otherwise.
// Context deadlines are honoured (ContextTimeoutEnabled), so a hung Redis
// costs a request its timeout, not the client's read timeout (5s in
// go-redis v9.22) per retry.
func dial(rawURL string) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// A *url.Error quotes the whole URL, password included: only its
		// cause is told.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if u.Query().Has("addr") {
		opt, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		opt.ContextTimeoutEnabled = true
		return redis.NewClusterClient(opt), nil
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	opt.ContextTimeoutEnabled = true
	return redis.NewClient(opt), nil
}

// startEmbedded starts an in-process miniredis for running with nothing
// installed. miniredis expires keys only when told that time has passed;
// ClockTTL makes its TTLs follow the wall clock, as a real server's do.
func startEmbedded() (*miniredis.Miniredis, error) {
	srv := miniredis.NewMiniRedis()
	srv.ClockTTL(true)
	if err := srv.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("embedded Redis: %w", err)
	}
	return srv, nil
}

// redactURL is rawURL with its password replaced by "xxxxx", for logs:
// the user-info's, and a password query parameter's (which go-redis
// refuses, after the URL is logged).
func redactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
