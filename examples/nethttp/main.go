// Command nethttp is the quickstart: the example appointments API on the
// standard library's http.ServeMux (Go 1.22 method and wildcard patterns).
// It needs nothing installed: without REDIS_URL it runs on an embedded
// in-process Redis.
//
//	go run ./nethttp
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/sytefy/kit/examples/internal/api"
	"github.com/sytefy/kit/examples/internal/app"
	"github.com/sytefy/kit/examples/internal/boot"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := boot.Main(ctx, newHandler); err != nil {
		fmt.Fprintln(os.Stderr, "nethttp:", err)
		os.Exit(1)
	}
}

// newHandler routes the API on a ServeMux.
func newHandler(a *api.API) http.Handler {
	mux := http.NewServeMux()
	authed := func(h http.HandlerFunc) http.Handler { return requireBearer(a, h) }

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		api.Write(w, a.Health(r.Context()))
	})
	mux.Handle("GET /metrics", a.Metrics())
	mux.HandleFunc("POST /auth/login", func(w http.ResponseWriter, r *http.Request) {
		api.Write(w, a.Login(r.Context(), r.Body, api.ClientOf(r)))
	})
	mux.HandleFunc("POST /auth/refresh", func(w http.ResponseWriter, r *http.Request) {
		api.Write(w, a.Refresh(r.Context(), r.Body, api.ClientOf(r)))
	})
	mux.HandleFunc("POST /auth/logout", func(w http.ResponseWriter, r *http.Request) {
		api.Write(w, a.Logout(r.Context(), r.Body))
	})
	mux.Handle("POST /auth/logout-all", authed(func(w http.ResponseWriter, r *http.Request) {
		api.Write(w, a.LogoutAll(r.Context(), caller(r)))
	}))
	mux.Handle("GET /auth/sessions", authed(func(w http.ResponseWriter, r *http.Request) {
		api.Write(w, a.Sessions(r.Context(), caller(r)))
	}))
	mux.Handle("POST /appointments", authed(func(w http.ResponseWriter, r *http.Request) {
		api.Write(w, a.CreateAppointment(r.Context(), caller(r), r.Body))
	}))
	mux.Handle("PUT /appointments/{id}", authed(func(w http.ResponseWriter, r *http.Request) {
		api.Write(w, a.RescheduleAppointment(r.Context(), caller(r), r.PathValue("id"), r.Body))
	}))
	mux.Handle("DELETE /appointments/{id}", authed(func(w http.ResponseWriter, r *http.Request) {
		api.Write(w, a.CancelAppointment(r.Context(), caller(r), r.PathValue("id")))
	}))
	mux.Handle("POST /payments", authed(func(w http.ResponseWriter, r *http.Request) {
		api.Write(w, a.CreatePayment(r.Context(), caller(r), r.Body))
	}))
	return mux
}

// requireBearer is the access-token middleware: it answers 401 (500 when
// the session store fails: fail closed) or passes the request on with the
// caller in its context.
func requireBearer(a *api.API, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			api.Write(w, a.Error(r.Context(), err))
			return
		}
		next.ServeHTTP(w, r.WithContext(api.WithPrincipal(r.Context(), p)))
	})
}

// caller is the Principal requireBearer stored.
func caller(r *http.Request) app.Principal {
	p, _ := api.PrincipalFrom(r.Context())
	return p
}
