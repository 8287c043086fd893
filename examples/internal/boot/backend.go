package boot

import (
	"fmt"
	"net/url"
	"strings"

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
		return nil, errBadURL(rawURL)
	}
	if u.Query().Has("addr") {
		opt, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, errBadURL(rawURL)
		}
		opt.ContextTimeoutEnabled = true
		return redis.NewClusterClient(opt), nil
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, errBadURL(rawURL)
	}
	opt.ContextTimeoutEnabled = true
	return redis.NewClient(opt), nil
}

// errBadURL reports a REDIS_URL that does not parse, or that go-redis
// refuses, by its redacted form and the form expected. The parsers' own
// errors are not told: they quote pieces of the URL (a port, a path, an
// escape), and a password with a '/' or '#' in it is taken for those.
func errBadURL(rawURL string) error {
	return fmt.Errorf("REDIS_URL %s is not a Redis URL: want redis[s]://[[user]:password@]host:port[/db][?addr=host:port...]",
		redactURL(rawURL))
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

// redactURL is rawURL without its password, for logs and errors. The
// user-info is taken to end at the last '@' of the URL, not at the first
// '/', '?' or '#' as a URL parser has it, so that a password holding one
// of those (base64 ones hold '/') is hidden too; so is a password query
// parameter, in any case (go-redis refuses it, after the URL is logged).
func redactURL(rawURL string) string {
	if i, j := strings.Index(rawURL, "://"), strings.LastIndex(rawURL, "@"); i >= 0 && j > i {
		rawURL = rawURL[:i+3] + "xxxxx" + rawURL[j:]
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") {
			q.Set(k, "xxxxx")
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}
