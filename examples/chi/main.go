// Command chi is the example appointments API on the chi router, with the
// access-token check as chi middleware on a route group.
//
//	go run ./chi
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/sytefy/kit/examples/internal/api"
	"github.com/sytefy/kit/examples/internal/app"
	"github.com/sytefy/kit/examples/internal/boot"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := boot.Main(ctx, newHandler); err != nil {
		fmt.Fprintln(os.Stderr, "chi:", err)
		os.Exit(1)
	}
}

// newHandler routes the API on a chi router.
func newHandler(a *api.API) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	// Every GET route takes HEAD too, as net/http's "GET" patterns do (a
	// load balancer may probe with it); the server drops the body.
	r.Use(middleware.GetHead)

	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) { api.Write(w, a.Health(r.Context())) })
	r.Method("GET", "/metrics", a.Metrics())
	r.Route("/auth", func(r chi.Router) {
		r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
			api.Write(w, a.Login(r.Context(), r.Body, api.ClientOf(r)))
		})
		r.Post("/refresh", func(w http.ResponseWriter, r *http.Request) {
			api.Write(w, a.Refresh(r.Context(), r.Body, api.ClientOf(r)))
		})
		r.Post("/logout", func(w http.ResponseWriter, r *http.Request) {
			api.Write(w, a.Logout(r.Context(), r.Body))
		})
		r.With(bearer(a)).Post("/logout-all", func(w http.ResponseWriter, r *http.Request) {
			api.Write(w, a.LogoutAll(r.Context(), caller(r)))
		})
		r.With(bearer(a)).Get("/sessions", func(w http.ResponseWriter, r *http.Request) {
			api.Write(w, a.Sessions(r.Context(), caller(r)))
		})
	})
	r.Group(func(r chi.Router) {
		r.Use(bearer(a))
		r.Post("/appointments", func(w http.ResponseWriter, r *http.Request) {
			api.Write(w, a.CreateAppointment(r.Context(), caller(r), r.Body))
		})
		r.Put("/appointments/{id}", func(w http.ResponseWriter, r *http.Request) {
			api.Write(w, a.RescheduleAppointment(r.Context(), caller(r), api.PathParam(r, chi.URLParam(r, "id")), r.Body))
		})
		r.Delete("/appointments/{id}", func(w http.ResponseWriter, r *http.Request) {
			api.Write(w, a.CancelAppointment(r.Context(), caller(r), api.PathParam(r, chi.URLParam(r, "id"))))
		})
		r.Post("/payments", func(w http.ResponseWriter, r *http.Request) {
			api.Write(w, a.CreatePayment(r.Context(), caller(r), r.Body))
		})
	})
	return r
}

// bearer is the access-token middleware: it answers 401 (500 when the
// session store fails: fail closed) or passes the request on with the
// caller in its context.
func bearer(a *api.API) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := a.Authenticate(r.Context(), r.Header.Get("Authorization"))
			if err != nil {
				api.Write(w, a.Error(r.Context(), err))
				return
			}
			next.ServeHTTP(w, r.WithContext(api.WithPrincipal(r.Context(), p)))
		})
	}
}

// caller is the Principal bearer stored.
func caller(r *http.Request) app.Principal {
	p, _ := api.PrincipalFrom(r.Context())
	return p
}
