package handlers

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
)

// builtinRoute is one of the dispatcher's own endpoints: the handlers that
// serve it, in order.
type builtinRoute struct {
	method, path string
	chain        []func(*Handler, *gin.Context)
}

func chain(fs ...func(*Handler, *gin.Context)) []func(*Handler, *gin.Context) { return fs }

// builtinRoutes are the endpoints Routes serves besides the pool routes,
// and the ones CheckRoutes keeps pool routes away from. This is the one
// list of them.
var builtinRoutes = [...]builtinRoute{
	{http.MethodGet, "/healthz", chain((*Handler).healthz)},
	{http.MethodHead, "/healthz", chain((*Handler).healthz)},
	{http.MethodGet, "/readyz", chain((*Handler).readyz)},
	{http.MethodGet, "/api/status", chain((*Handler).status)},
	{http.MethodGet, "/api/explain", chain((*Handler).explainHandler)},
	{http.MethodGet, "/api/history", chain((*Handler).history)},
	{http.MethodGet, "/api/stats", chain((*Handler).statsHandler)},
	{http.MethodGet, "/metrics", chain((*Handler).metrics)},
	{http.MethodGet, "/status", chain((*Handler).dashboard)},
	{http.MethodGet, "/status/*asset", chain((*Handler).dashboard)},
	{http.MethodPost, "/api/reload", chain((*Handler).admin, (*Handler).reload)},
	{http.MethodPost, "/api/pools/:pool/mirrors/:mirror/:action", chain((*Handler).admin, (*Handler).setEnabled)},
}

// Routes registers every endpoint on r: the pool routes (GET and HEAD),
// then the built-in ones.
func (h *Handler) Routes(r gin.IRouter) {
	for i := range h.routes {
		// Pool routes write their own access-log line: they know the
		// client and the mirror without computing them again.
		f := h.redirect(&h.routes[i])
		for _, path := range h.routes[i].Paths {
			r.GET(path, f)
			r.HEAD(path, f)
		}
	}
	for _, b := range builtinRoutes {
		var hs []gin.HandlerFunc
		if h.accessLog != nil {
			hs = append(hs, h.accessLogMiddleware)
		}
		for _, f := range b.chain {
			hs = append(hs, func(c *gin.Context) { f(h, c) })
		}
		r.Handle(b.method, b.path, hs...)
	}
}

// RouteProblem is a pool route the router cannot serve: Pool and Route
// index the pools and their routes as given to CheckRoutes.
type RouteProblem struct {
	Pool, Route int
	Msg         string
}

// CheckRoutes reports the pool routes that repeat a built-in endpoint or
// an earlier route, or that collide with one in gin's router (which would
// panic at start). routes[i] are the routes of the pool named names[i].
func CheckRoutes(names []string, routes [][]string) []RouteProblem {
	var problems []RouteProblem
	seen := map[string]string{}
	engine := gin.New()
	for _, b := range builtinRoutes {
		seen[b.path] = "a built-in endpoint"
		if err := register(engine, b.method, b.path); err != nil {
			panic(fmt.Sprintf("built-in routes collide: %v", err)) // a bug in builtinRoutes
		}
	}
	for i, rs := range routes {
		for j, path := range rs {
			if owner, dup := seen[path]; dup {
				problems = append(problems, RouteProblem{i, j, fmt.Sprintf("route %q is already used by %s", path, owner)})
				continue
			}
			if err := register(engine, http.MethodGet, path); err != nil {
				problems = append(problems, RouteProblem{i, j, fmt.Sprintf("route %q collides with another route: %v", path, err)})
				continue
			}
			seen[path] = fmt.Sprintf("pools[%d] (%s)", i, names[i])
		}
	}
	return problems
}

// register adds path to engine, turning gin's panic on a conflict into an
// error. Pool routes are checked as GET (HEAD has the same tree shape).
func register(engine *gin.Engine, method, path string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	engine.Handle(method, path, func(*gin.Context) {})
	return nil
}
