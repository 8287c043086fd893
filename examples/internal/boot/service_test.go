package boot_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"github.com/sytefy/kit/examples/internal/api"
	"github.com/sytefy/kit/examples/internal/app"
	"github.com/sytefy/kit/examples/internal/boot"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testConfig() app.Config {
	cfg := app.Defaults()
	cfg.PasswordCost = bcrypt.MinCost
	cfg.ReminderOffset = 0
	cfg.JWTSecret = make([]byte, app.MinSecretLen)
	_, _ = rand.Read(cfg.JWTSecret)
	return cfg
}

type notes struct {
	mu   sync.Mutex
	msgs []app.Message
}

func (n *notes) Notify(_ context.Context, m app.Message) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.msgs = append(n.msgs, m)
	return nil
}

func (n *notes) len() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.msgs)
}

// login returns the Principal of a fresh demo session, through the API.
func login(t *testing.T, a *api.API) app.Principal {
	t.Helper()
	ctx := context.Background()
	r := a.Login(ctx, strings.NewReader(`{"username":"demo","password":"demo"}`), app.Client{})
	require.Equal(t, http.StatusOK, r.Status, "%+v", r.Body)
	p, err := a.Authenticate(ctx, "Bearer "+r.Body.(app.TokenResponse).AccessToken)
	require.NoError(t, err)
	return p
}

// Eager mode needs no Redis and no worker: the reminder is sent inside the
// request that schedules it, whatever its due time.
func TestEagerNeedsNoRedis(t *testing.T) {
	cfg := testConfig()
	cfg.Eager = true
	n := &notes{}
	svc, err := boot.New(cfg, boot.WithNotifier(n))
	require.NoError(t, err)
	defer svc.Close()

	p := login(t, svc.API)
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r := svc.API.CreateAppointment(context.Background(), p, strings.NewReader(`{"title":"eager","at":"`+at+`"}`))
	require.Equal(t, http.StatusCreated, r.Status, "%+v", r.Body)
	assert.Equal(t, 2, n.len(), "e-mail and SMS sent before Create returned")
	assert.Equal(t, http.StatusOK, svc.API.Health(context.Background()).Status)
}

// Serve shuts down in order: the HTTP server first, letting a running
// request finish, and only then the reminder workers.
func TestServeStopsHTTPBeforeWorkers(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	svc, err := boot.New(testConfig(), boot.WithLogger(log))
	require.NoError(t, err)
	defer svc.Close()

	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		log.Info("slow request finished")
		w.WriteHeader(http.StatusOK)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- svc.Serve(ctx, ln, h) }()

	got := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			got <- 0
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	<-entered
	cancel()
	select {
	case err := <-served:
		t.Fatalf("Serve returned while a request was running: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-served)
	assert.Equal(t, http.StatusOK, <-got, "the running request completed")

	out := logs.String()
	finished := strings.Index(out, "slow request finished")
	stopped := strings.Index(out, "reminders: worker stopped") // the library's record
	require.True(t, finished >= 0 && stopped >= 0, "log:\n%s", out)
	assert.Less(t, finished, stopped, "workers stopped after the HTTP server")
	_, err = net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	assert.Error(t, err, "listener closed")
}

func TestNewRejectsBadRedisURL(t *testing.T) {
	cfg := testConfig()
	cfg.RedisURL = "mysql://nope"
	_, err := boot.New(cfg)
	require.ErrorIs(t, err, app.ErrConfig)
	assert.Contains(t, err.Error(), "REDIS_URL")
}

// TestBadRedisURLKeepsPassword: the error for a REDIS_URL that does not
// parse, or that go-redis refuses, does not show its password.
func TestBadRedisURLKeepsPassword(t *testing.T) {
	for _, u := range []string{
		"redis://:s3cret%zz@127.0.0.1:1/0",
		"redis://default:s3cret pw@127.0.0.1:1/0",
		"redis://:s3cret/Ab+c=@127.0.0.1:1/0",
		"redis://default:s3cret#x@127.0.0.1:1/0",
		"redis://:1234/s3cret@127.0.0.1:1/0",
		"redis://127.0.0.1:1/0?password=s3cret",
		"redis://127.0.0.1:1/0?addr=127.0.0.1:2&password=s3cret",
	} {
		cfg := testConfig()
		cfg.RedisURL = u
		_, err := boot.New(cfg)
		require.ErrorIs(t, err, app.ErrConfig, u)
		assert.NotContains(t, err.Error(), "s3cret", u)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The docker-compose topology: an API that runs no workers
// (REMINDER_WORKERS=0) and a separate worker process on the same Redis.
// The worker delivers what the API scheduled.
func TestSeparateWorkerDelivers(t *testing.T) {
	mini := miniredis.RunT(t)
	cfg := testConfig()
	cfg.RedisURL = "redis://" + mini.Addr()
	apiCfg := cfg
	apiCfg.Workers = 0
	apiSvc, err := boot.New(apiCfg)
	require.NoError(t, err)
	defer apiSvc.Close()
	n := &notes{}
	workerSvc, err := boot.New(cfg, boot.WithNotifier(n))
	require.NoError(t, err)
	defer workerSvc.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- workerSvc.RunWorkers(ctx) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	require.NoError(t, apiSvc.RunWorkers(ctx), "REMINDER_WORKERS=0: returns at once")

	p := login(t, apiSvc.API)
	at := time.Now().Add(300 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	r := apiSvc.API.CreateAppointment(ctx, p, strings.NewReader(`{"title":"elsewhere","at":"`+at+`"}`))
	require.Equal(t, http.StatusCreated, r.Status, "%+v", r.Body)
	require.Eventually(t, func() bool { return n.len() == 2 }, 5*time.Second, 10*time.Millisecond,
		"the worker sent the e-mail and the SMS")
}
