package config

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// ReservedRoutes are the dispatcher's own endpoints; no pool may claim them
// or a route the router cannot tell apart from them.
var ReservedRoutes = []string{
	"/healthz",
	"/readyz",
	"/metrics",
	"/status",
	"/status/*asset",
	"/api/status",
	"/api/reload",
	"/api/pools/:pool/mirrors/:mirror/:action",
}

// checkRoutes reports routes that are malformed, repeated, or that collide
// with each other or with ReservedRoutes. The test of a collision is the one
// that matters: whether gin's router accepts the whole set.
func checkRoutes(c *collector, pools []Pool) {
	seen := map[string]string{}
	for _, r := range ReservedRoutes {
		seen[r] = "a built-in endpoint"
	}
	engine := gin.New()
	for _, r := range ReservedRoutes {
		engine.Handle(http.MethodGet, r, noop)
	}
	for i := range pools {
		for j, route := range pools[i].Routes {
			path := fmt.Sprintf("pools[%d].routes[%d]", i, j)
			if !strings.HasPrefix(route, "/") {
				c.add(path, "must start with /, got %q", route)
				continue
			}
			if strings.ContainsAny(route, " \t\r\n?#%\\") {
				c.add(path, "must not contain spaces, '?', '#', '%%' or '\\', got %q", route)
				continue
			}
			if owner, dup := seen[route]; dup {
				c.add(path, "route %q is already used by %s", route, owner)
				continue
			}
			if err := register(engine, route); err != nil {
				c.add(path, "route %q collides with another route: %v", route, err)
				continue
			}
			seen[route] = fmt.Sprintf("pools[%d] (%s)", i, pools[i].Name)
		}
	}
}

func register(engine *gin.Engine, route string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	engine.Handle(http.MethodGet, route, noop)
	return nil
}

func noop(*gin.Context) {}
