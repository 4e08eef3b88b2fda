// Package handlers answers HTTP: pool routes with 302s to a mirror picked by
// the strategy package, and the operator endpoints (/healthz, /readyz,
// /api/status, /metrics, the dashboard and the admin API).
package handlers

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/dispatcher/dispatcher/strategy"
)

// Route is how a pool answers HTTP, besides its mirrors (which the
// snapshot holds, under the same name): it does not change until the
// configuration is reloaded.
type Route struct {
	// Pool names the snapshot's pool this route picks from.
	Pool     string
	Strategy string
	// Paths are the gin routes it serves.
	Paths      []string
	Fallback   string
	AppendPath bool
	// Locate is set when the strategy uses the client's location (geo):
	// other pools skip the database lookup, but for ?mirrorlist.
	Locate bool

	// bodyWidth is the longest HTML-escaped part of a Location that comes
	// from a mirror URL: 302 bodies are padded to it, so that their length
	// does not depend on the mirror picked (ab counts a changing length as
	// a failure). Mirror URLs change only with the configuration, and a
	// new configuration builds a new engine.
	bodyWidth int
}

// Locator fills in where a client is. geo.DB implements it.
type Locator interface {
	// Locate sets c's country, continent and coordinates from c.IP.
	Locate(c *strategy.Client)
	// LocateCountry sets them as if c were in country cc, reporting
	// whether cc is a known country code.
	LocateCountry(c *strategy.Client, cc string) bool
}

// Operator is the running service as the operator endpoints see it.
type Operator interface {
	Status() *Status
	WriteMetrics(w io.Writer)
	// Ready reports whether the service is ready, with a one-line reason.
	Ready() (bool, string)
	Reload(ctx context.Context) error
	// SetEnabled drains (false) or re-enables (true) a mirror.
	SetEnabled(ctx context.Context, pool, mirror string, enabled bool) error
}

// ErrNotFound is returned by Operator.SetEnabled for an unknown pool or mirror.
var ErrNotFound = errors.New("not found")

// Options are the dependencies of New.
type Options struct {
	Log *slog.Logger
	// State publishes the pools; each Route picks from the snapshot's
	// pool of its name. A pool's mirrors carry their redirect counters.
	State  *strategy.State
	Routes []Route
	// Trusted lists the proxies whose forwarding headers are believed.
	Trusted []netip.Prefix
	// Locator is nil when no geo database is configured.
	Locator    Locator
	Operator   Operator
	AdminToken string
	// Dashboard holds index.html and its assets for /status.
	Dashboard fs.FS
	// AccessLog writes one Info line per request when set.
	AccessLog bool
}

// Handler holds the dependencies of the HTTP handlers. It is safe for
// concurrent use.
type Handler struct {
	log     *slog.Logger
	state   *strategy.State
	routes  []Route
	trusted []netip.Prefix
	locator Locator
	op      Operator
	token   string
	dash    fs.FS
	// accessLog writes one Info line per request.
	accessLog bool
}

// New builds the gin engine serving every pool route and operator endpoint.
func New(o Options) *gin.Engine {
	h := &Handler{
		log:     o.Log,
		state:   o.State,
		routes:  append([]Route(nil), o.Routes...),
		trusted: o.Trusted,
		locator: o.Locator,
		op:      o.Operator,
		token:   o.AdminToken,
		dash:    o.Dashboard,
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	r := gin.New()
	// The forwarding headers are read by ClientIP alone; gin's own
	// defaults would trust every proxy.
	if err := r.SetTrustedProxies(nil); err != nil {
		panic(err) // nil never fails
	}
	r.RedirectTrailingSlash = false // "//evil.example/" must not become Location: //evil.example
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	h.accessLog = o.AccessLog
	for i := range h.routes {
		h.routes[i].bodyWidth = bodyWidth(o.State, &h.routes[i])
	}
	r.Use(h.recovery)
	r.NoRoute(h.logged(func(c *gin.Context) { c.String(http.StatusNotFound, "404 not found\n") }))
	r.NoMethod(h.logged(func(c *gin.Context) { c.String(http.StatusMethodNotAllowed, "405 method not allowed\n") }))
	h.Routes(r)
	return r
}

// bufPool recycles the buffers a redirect is built in.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Header values that never change, shared by every response. net/http
// only reads them; Header().Set replaces a slice rather than writing to it.
var (
	hdrNoStore = []string{"no-store"}
	hdrHTML    = []string{"text/html; charset=utf-8"}
)

// redirect returns the handler of a pool's routes.
func (h *Handler) redirect(route *Route) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !h.accessLog {
			h.serveRedirect(c, route)
			return
		}
		start := time.Now()
		ip, mirror := h.serveRedirect(c, route)
		h.logRequest(c, start, ip, mirror)
	}
}

// serveRedirect answers one request on a pool route and returns the client
// address and the mirror name ("" when none) for the access log.
func (h *Handler) serveRedirect(c *gin.Context, route *Route) (netip.Addr, string) {
	r := c.Request
	var cl strategy.Client
	cl.IP, cl.Secure = resolveClient(r, h.trusted)
	ctl := parseControls(r.URL.RawQuery)
	if route.Locate || ctl.mirrorlist {
		h.locate(&cl, ctl.country)
	}
	p := h.state.Load().Pool(route.Pool)
	if p == nil {
		// The snapshot and the routes come from one configuration; a pool
		// missing from it is a bug, answered as an unusable pool.
		return cl.IP, h.noMirror(c, route)
	}
	req, ok := newReqPath(r.URL)
	if !ok {
		c.String(http.StatusBadRequest, "400 bad request: %v\n", errBadPath)
		return cl.IP, ""
	}
	if ctl.mirrorlist {
		h.mirrorlist(c, route, p, cl, &req)
		return cl.IP, ""
	}
	m := p.Find(ctl.mirror)
	if m == nil || !m.Usable() {
		var err error
		if m, err = p.Strategy.Pick(r.Context(), p, cl); err != nil {
			if p.Unserved != nil {
				p.Unserved.Add(1)
			}
			return cl.IP, h.noMirror(c, route)
		}
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := req.appendLocation((*bp)[:0], m.URL, route.AppendPath)
	// One allocation holds the two per-response header values.
	vals := new([2]string)
	vals[0], vals[1] = string(buf), m.Name
	hdr := c.Writer.Header()
	hdr["Location"] = vals[0:1:1]
	hdr["X-Mirror"] = vals[1:2:2]
	hdr["Cache-Control"] = hdrNoStore
	hdr["Content-Type"] = hdrHTML
	if route.AppendPath && p.Usable() > 1 {
		if link := h.link(p, cl, m, buf, &req); link != "" {
			hdr["Link"] = []string{link}
		}
	}
	if m.Redirects != nil {
		m.Redirects.Add(1)
	}
	c.Writer.WriteHeader(http.StatusFound)
	if r.Method != http.MethodHead {
		// net/http adds the Content-Length of a body this small.
		body := append(buf[:0], `<a href="`...)
		body = appendHTMLEscaped(body, vals[0])
		body = append(body, "\">Found</a>."...)
		for range route.bodyWidth - htmlEscapedLen(locationBase(m.URL, route.AppendPath)) {
			body = append(body, ' ')
		}
		body = append(body, '\n')
		c.Writer.Write(body) //nolint:errcheck // the client went away; nothing to do
		buf = body
	}
	*bp = buf
	return cl.IP, m.Name
}

// maxLinks is how many alternatives a 302 names in its Link header.
const maxLinks = 3

// maxLinkBytes bounds the Link header: entries that would take it past
// this are left out, so that a long path does not multiply the response.
const maxLinkBytes = 1024

// bodyWidth returns the Route.bodyWidth of route in st's snapshot.
func bodyWidth(st *strategy.State, route *Route) int {
	if st == nil || st.Load() == nil {
		return 0
	}
	p := st.Load().Pool(route.Pool)
	if p == nil {
		return 0
	}
	w := 0
	for i := range p.Mirrors {
		w = max(w, htmlEscapedLen(locationBase(p.Mirrors[i].URL, route.AppendPath)))
	}
	return w
}

// link builds the RFC 6249 Link header naming the next best mirrors after
// picked, so that download managers can fail over. It stays within
// maxLinkBytes.
func (h *Handler) link(p *strategy.Pool, cl strategy.Client, picked *strategy.Mirror, scratch []byte, req *reqPath) string {
	var rankBuf [maxLinks + 1]int
	ranked := strategy.Rank(p, cl, rankBuf[:0], maxLinks+1)
	out := scratch[:0]
	n := 0
	for _, i := range ranked {
		m := &p.Mirrors[i]
		if m == picked || n == maxLinks {
			continue
		}
		keep := len(out)
		if n > 0 {
			out = append(out, ", "...)
		}
		out = append(out, '<')
		out = req.appendLocation(out, m.URL, true)
		out = append(out, ">; rel=duplicate; pri="...)
		out = strconv.AppendInt(out, int64(n+1), 10)
		if len(out) > maxLinkBytes {
			out = out[:keep]
			break
		}
		n++
	}
	return string(out)
}

// noMirror answers when no mirror of the pool is usable: a 302 to the
// fallback, else 503. It returns what the access log names as the mirror.
func (h *Handler) noMirror(c *gin.Context, route *Route) string {
	hdr := c.Writer.Header()
	hdr["Cache-Control"] = hdrNoStore
	if route.Fallback != "" {
		hdr["X-Mirror"] = []string{"fallback"}
		c.Redirect(http.StatusFound, route.Fallback)
		return "fallback"
	}
	hdr["Retry-After"] = []string{"10"}
	c.String(http.StatusServiceUnavailable, "503 no mirror of pool %s is available\n", route.Pool)
	return ""
}

func (h *Handler) locate(cl *strategy.Client, country string) {
	if h.locator == nil {
		return
	}
	if country != "" && h.locator.LocateCountry(cl, country) {
		return
	}
	h.locator.Locate(cl)
}

// controls are the client controls a pool route reads from its query.
type controls struct {
	country    string
	mirror     string
	mirrorlist bool
}

func parseControls(rawQuery string) controls {
	var ctl controls
	if rawQuery == "" {
		return ctl
	}
	for q := rawQuery; q != ""; {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(pair, "=")
		switch k {
		case "country":
			if len(v) == 2 {
				ctl.country = strings.ToUpper(v)
			}
		case "mirror":
			ctl.mirror = v
		case "mirrorlist":
			ctl.mirrorlist = true
		}
	}
	return ctl
}

func (h *Handler) recovery(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			h.log.Error("handler panic", "path", c.Request.URL.Path, "panic", v)
			c.AbortWithStatus(http.StatusInternalServerError)
		}
	}()
	c.Next()
}

// accessLogMiddleware logs the operator endpoints.
func (h *Handler) accessLogMiddleware(c *gin.Context) {
	start := time.Now()
	c.Next()
	h.logRequest(c, start, ClientIP(c.Request, h.trusted), "")
}

// logged wraps f with the access log when it is on.
func (h *Handler) logged(f gin.HandlerFunc) gin.HandlerFunc {
	if !h.accessLog {
		return f
	}
	return func(c *gin.Context) {
		start := time.Now()
		f(c)
		h.logRequest(c, start, ClientIP(c.Request, h.trusted), "")
	}
}

// logRequest writes the access-log line of one request. It builds the
// record itself: slog.Logger would capture the caller's program counter,
// which costs more than the rest of the line.
func (h *Handler) logRequest(c *gin.Context, start time.Time, ip netip.Addr, mirror string) {
	r := c.Request
	ctx := r.Context()
	if !h.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	now := time.Now()
	rec := slog.NewRecord(now, slog.LevelInfo, "request", 0)
	rec.AddAttrs(
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", c.Writer.Status()),
		slog.String("client_ip", ip.String()),
		slog.String("mirror", mirror),
		// Microseconds as an integer: slog writes floats through
		// encoding/json, which costs more than the rest of the line.
		slog.Int64("duration_us", now.Sub(start).Microseconds()),
	)
	h.log.Handler().Handle(ctx, rec) //nolint:errcheck // the log writer reports its own failures
}

func (h *Handler) healthz(c *gin.Context) { c.String(http.StatusOK, "ok\n") }

func (h *Handler) readyz(c *gin.Context) {
	ok, msg := h.op.Ready()
	code := http.StatusOK
	if !ok {
		code = http.StatusServiceUnavailable
	}
	c.String(code, "%s\n", msg)
}

func (h *Handler) status(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, h.op.Status())
}

func (h *Handler) metrics(c *gin.Context) {
	c.Header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	c.Status(http.StatusOK)
	h.op.WriteMetrics(c.Writer)
}

// admin lets a request through only with the admin bearer token.
func (h *Handler) admin(c *gin.Context) {
	if h.token == "" {
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "admin API disabled: DISPATCHER_ADMIN_TOKEN is not set"})
		return
	}
	got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(h.token)) != 1 {
		c.Header("WWW-Authenticate", `Bearer realm="dispatcher"`)
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "missing or wrong bearer token"})
		return
	}
	c.Next()
}

func (h *Handler) reload(c *gin.Context) {
	if err := h.op.Reload(c.Request.Context()); err != nil {
		c.JSON(http.StatusUnprocessableEntity, gin.H{"error": "reload rejected; the old configuration keeps serving", "details": strings.Split(err.Error(), "\n")})
		return
	}
	c.JSON(http.StatusOK, gin.H{"reloaded": true, "config_sha256": h.op.Status().ConfigSHA256})
}

func (h *Handler) setEnabled(c *gin.Context) {
	var enabled bool
	switch c.Param("action") {
	case "drain":
	case "enable":
		enabled = true
	default:
		c.JSON(http.StatusNotFound, gin.H{"error": "unknown action " + strconv.Quote(c.Param("action")) + " (want drain or enable)"})
		return
	}
	pool, mirror := c.Param("pool"), c.Param("mirror")
	if err := h.op.SetEnabled(c.Request.Context(), pool, mirror, enabled); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrNotFound) {
			code = http.StatusNotFound
		}
		c.JSON(code, gin.H{"error": err.Error()})
		return
	}
	c.JSON(http.StatusOK, gin.H{"pool": pool, "mirror": mirror, "enabled": enabled})
}

func (h *Handler) dashboard(c *gin.Context) {
	if h.dash == nil {
		c.String(http.StatusNotFound, "404 no dashboard\n")
		return
	}
	name := strings.TrimPrefix(c.Param("asset"), "/")
	if name == "" {
		name = "index.html"
	}
	data, err := fs.ReadFile(h.dash, name)
	if err != nil {
		c.String(http.StatusNotFound, "404 not found\n")
		return
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, ctype, data)
}
