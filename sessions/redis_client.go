package sessions

import (
	"fmt"
	"reflect"

	"github.com/redis/go-redis/v9"
)

// checkClient refuses a client the store cannot use safely: nil, a nil
// pointer inside the interface (it would panic at the first call), or a
// cluster client that sends reads to replicas (see NewRedisStore).
func checkClient(c redis.UniversalClient) error {
	if isNil(c) {
		return fmt.Errorf("%w: client: nil", ErrInvalid)
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		if o := cc.Options(); o.ReadOnly || o.RouteByLatency || o.RouteRandomly {
			return fmt.Errorf("%w: client: reads from replicas (ClusterOptions ReadOnly, RouteByLatency or "+
				"RouteRandomly), which may not have applied a revoke yet; give the store a client that reads from masters",
				ErrInvalid)
		}
	}
	return nil
}

// isNil reports whether c is nil or holds a nil pointer, map, func or
// the like: (*redis.Client)(nil) is a non-nil UniversalClient.
func isNil(c redis.UniversalClient) bool {
	if c == nil {
		return true
	}
	switch v := reflect.ValueOf(c); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// contextTimeoutEnabled reports whether the client lets a context's
// deadline bound each call.
func contextTimeoutEnabled(c redis.UniversalClient) bool {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return true // unknown implementation: nothing to say
}
