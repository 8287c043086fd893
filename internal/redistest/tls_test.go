package redistest

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTLSServer(t *testing.T) {
	s := StartTLSServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c := s.Client(TLSPassword)
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	who, err := c.Do(ctx, "ACL", "WHOAMI").Text()
	require.NoError(t, err)
	assert.Equal(t, TLSUser, who)

	t.Run("wrong password is refused", func(t *testing.T) {
		err := s.Client("wrong").Ping(ctx).Err()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "WRONGPASS")
	})
	t.Run("default user is off", func(t *testing.T) {
		opt, err := s.Options("")
		require.NoError(t, err)
		opt.Username, opt.Password, opt.MaxRetries = "", "", -1
		c := redis.NewClient(opt)
		defer c.Close()
		assert.Error(t, c.Get(ctx, "k").Err())
	})
	t.Run("plain TCP gets no answer", func(t *testing.T) {
		c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
		defer c.Close()
		assert.Error(t, c.Ping(ctx).Err())
	})
	t.Run("an untrusted CA is refused", func(t *testing.T) {
		opt, err := s.Options(TLSPassword)
		require.NoError(t, err)
		opt.TLSConfig.RootCAs = x509.NewCertPool()
		opt.MaxRetries = -1
		c := redis.NewClient(opt)
		defer c.Close()
		assert.ErrorContains(t, c.Ping(ctx).Err(), "certificate")
	})
	t.Run("restart keeps TLS and the user", func(t *testing.T) {
		s.Restart()
		require.NoError(t, s.Client(TLSPassword).Ping(ctx).Err())
	})
	t.Run("TLSConfig dials too", func(t *testing.T) {
		c := redis.NewClient(&redis.Options{Addr: s.Addr, Username: TLSUser, Password: TLSPassword, TLSConfig: s.TLSConfig(), MaxRetries: -1})
		defer c.Close()
		require.NoError(t, c.Ping(ctx).Err())
	})
}
