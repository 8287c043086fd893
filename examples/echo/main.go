// Command echo is the example appointments API on Echo, with the
// access-token check as Echo middleware on a route group.
//
//	go run ./echo
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/sytefy/kit/examples/internal/api"
	"github.com/sytefy/kit/examples/internal/app"
	"github.com/sytefy/kit/examples/internal/boot"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := boot.Main(ctx, newHandler); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

// newHandler routes the API on an Echo instance. Echo serves as a plain
// http.Handler here: boot owns the http.Server and its shutdown.
func newHandler(a *api.API) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.Recover())

	// Every GET route takes HEAD too, as net/http's "GET" patterns do (a
	// load balancer may probe with it); the server drops the body.
	getHead := []string{http.MethodGet, http.MethodHead}
	e.Match(getHead, "/healthz", func(c echo.Context) error {
		return write(c, a.Health(c.Request().Context()))
	})
	e.Match(getHead, "/metrics", echo.WrapHandler(a.Metrics()))
	auth := e.Group("/auth")
	auth.POST("/login", func(c echo.Context) error {
		return write(c, a.Login(c.Request().Context(), c.Request().Body, api.ClientOf(c.Request())))
	})
	auth.POST("/refresh", func(c echo.Context) error {
		return write(c, a.Refresh(c.Request().Context(), c.Request().Body, api.ClientOf(c.Request())))
	})
	auth.POST("/logout", func(c echo.Context) error {
		return write(c, a.Logout(c.Request().Context(), c.Request().Body))
	})
	auth.POST("/logout-all", func(c echo.Context) error {
		return write(c, a.LogoutAll(c.Request().Context(), caller(c)))
	}, bearer(a))
	auth.Match(getHead, "/sessions", func(c echo.Context) error {
		return write(c, a.Sessions(c.Request().Context(), caller(c)))
	}, bearer(a))

	// bearer on each route, not on the group: Echo gives a group with
	// middleware catch-all routes, which answer 404 where the path exists
	// and only the method is wrong (405 on the other routers).
	appts := e.Group("/appointments")
	appts.POST("", func(c echo.Context) error {
		return write(c, a.CreateAppointment(c.Request().Context(), caller(c), c.Request().Body))
	}, bearer(a))
	appts.PUT("/:id", func(c echo.Context) error {
		return write(c, a.RescheduleAppointment(c.Request().Context(), caller(c), api.PathParam(c.Request(), c.Param("id")), c.Request().Body))
	}, oneSegment, bearer(a))
	appts.DELETE("/:id", func(c echo.Context) error {
		return write(c, a.CancelAppointment(c.Request().Context(), caller(c), api.PathParam(c.Request(), c.Param("id"))))
	}, oneSegment, bearer(a))
	e.POST("/payments", func(c echo.Context) error {
		return write(c, a.CreatePayment(c.Request().Context(), caller(c), c.Request().Body))
	}, bearer(a))
	return e
}

const principalKey = "principal"

// oneSegment answers 404 when the id parameter holds a '/': Echo's final
// path parameter takes the rest of the path, so /appointments/x/ would
// reach the route with id "x/", where the other routers find no route.
func oneSegment(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if strings.Contains(c.Param("id"), "/") {
			return echo.ErrNotFound
		}
		return next(c)
	}
}

// bearer is the access-token middleware: it answers 401 (500 when the
// session store fails: fail closed) or stores the caller in the Echo
// context.
func bearer(a *api.API) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, err := a.Authenticate(c.Request().Context(), c.Request().Header.Get("Authorization"))
			if err != nil {
				return write(c, a.Error(c.Request().Context(), err))
			}
			c.Set(principalKey, p)
			return next(c)
		}
	}
}

// caller is the Principal bearer stored.
func caller(c echo.Context) app.Principal {
	p, _ := c.Get(principalKey).(app.Principal)
	return p
}

// write sends an api.Response through Echo.
func write(c echo.Context, r api.Response) error {
	for k, v := range r.Header {
		c.Response().Header().Set(k, v)
	}
	if r.Body == nil {
		return c.NoContent(r.Status)
	}
	return c.JSON(r.Status, r.Body)
}
