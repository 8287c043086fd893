// Command gin is the example appointments API on Gin, with the
// access-token check as Gin middleware on a route group.
//
//	go run ./gin
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/sytefy/kit/examples/internal/api"
	"github.com/sytefy/kit/examples/internal/app"
	"github.com/sytefy/kit/examples/internal/boot"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	gin.SetMode(gin.ReleaseMode) // the service logs through slog; no route dump
	if err := boot.Main(ctx, newHandler); err != nil {
		fmt.Fprintln(os.Stderr, "gin:", err)
		os.Exit(1)
	}
}

// newHandler routes the API on a Gin engine.
func newHandler(a *api.API) http.Handler {
	r := gin.New()
	r.HandleMethodNotAllowed = true // 405, as the other routers answer
	r.RedirectTrailingSlash = false // 404 for "/healthz/", as the other routers answer, not a redirect
	r.Use(gin.Recovery())

	// Every GET route takes HEAD too, as net/http's "GET" patterns do (a
	// load balancer may probe with it); the server drops the body.
	getHead := []string{http.MethodGet, http.MethodHead}
	r.Match(getHead, "/healthz", func(c *gin.Context) {
		write(c, a.Health(c.Request.Context()))
	})
	r.Match(getHead, "/metrics", gin.WrapH(a.Metrics()))
	auth := r.Group("/auth")
	auth.POST("/login", func(c *gin.Context) {
		write(c, a.Login(c.Request.Context(), c.Request.Body, api.ClientOf(c.Request)))
	})
	auth.POST("/refresh", func(c *gin.Context) {
		write(c, a.Refresh(c.Request.Context(), c.Request.Body, api.ClientOf(c.Request)))
	})
	auth.POST("/logout", func(c *gin.Context) { write(c, a.Logout(c.Request.Context(), c.Request.Body)) })
	auth.POST("/logout-all", bearer(a), func(c *gin.Context) { write(c, a.LogoutAll(c.Request.Context(), caller(c))) })
	auth.Match(getHead, "/sessions", bearer(a), func(c *gin.Context) { write(c, a.Sessions(c.Request.Context(), caller(c))) })

	authed := r.Group("/", bearer(a))
	authed.POST("/appointments", func(c *gin.Context) {
		write(c, a.CreateAppointment(c.Request.Context(), caller(c), c.Request.Body))
	})
	authed.PUT("/appointments/:id", func(c *gin.Context) {
		write(c, a.RescheduleAppointment(c.Request.Context(), caller(c), c.Param("id"), c.Request.Body))
	})
	authed.DELETE("/appointments/:id", func(c *gin.Context) {
		write(c, a.CancelAppointment(c.Request.Context(), caller(c), c.Param("id")))
	})
	authed.POST("/payments", func(c *gin.Context) {
		write(c, a.CreatePayment(c.Request.Context(), caller(c), c.Request.Body))
	})
	return r
}

const principalKey = "principal"

// bearer is the access-token middleware: it aborts with 401 (500 when the
// session store fails: fail closed) or stores the caller in the Gin
// context.
func bearer(a *api.API) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, err := a.Authenticate(c.Request.Context(), c.GetHeader("Authorization"))
		if err != nil {
			write(c, a.Error(c.Request.Context(), err))
			c.Abort()
			return
		}
		c.Set(principalKey, p)
		c.Next()
	}
}

// caller is the Principal bearer stored.
func caller(c *gin.Context) app.Principal {
	v, _ := c.Get(principalKey)
	p, _ := v.(app.Principal)
	return p
}

// write sends an api.Response through Gin.
func write(c *gin.Context, r api.Response) {
	for k, v := range r.Header {
		c.Header(k, v)
	}
	if r.Body == nil {
		c.Status(r.Status)
		return
	}
	c.JSON(r.Status, r.Body)
}
