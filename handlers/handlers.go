// Package handlers answers HTTP: pool routes with 302s to a mirror picked by
// the strategy package, and the operator endpoints (/healthz, /readyz,
// /api/status, /metrics, the dashboard and the admin API).
package handlers

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/dispatcher/dispatcher/internal/glob"
	"github.com/dispatcher/dispatcher/stats"
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
	// Locate is set when the strategy or a mirror's rules use the
	// client's location (geo, only, exclude_countries): other pools skip
	// the database lookup, but for ?mirrorlist.
	Locate bool
	// Ruled is set when a mirror of the pool is restricted by where the
	// client is (only country or continent, exclude_countries): the
	// client is located by its address even under ?country=.
	Ruled bool
	// NeedsASN is set when a mirror of the pool names ASNs (geo's AS
	// tier, only "asn"): the client's AS is looked up for it.
	NeedsASN bool
	// Files makes the pool file-aware (nil: it is not): a request goes
	// only to mirrors that hold the file. Its View's mirrors are the
	// snapshot pool's, in the same order (both come from one
	// configuration).
	Files FileViews
	// Unknown is what a path the origin lacks gets: any, fallback or 404.
	Unknown string
	// OriginURL is where paths matching OriginPaths and files smaller
	// than MinSize bytes go, with the path ("": nowhere).
	OriginURL   string
	OriginPaths []glob.Pattern
	MinSize     int64
	// Verify checks requested files on the mirrors (nil: no checks).
	Verify FileChecks
	// Duration is told how long each request took, in seconds (nil: no
	// one is). prometheus.Observer implements it.
	Duration Observer

	// bodyWidth is the longest HTML-escaped part of a Location that comes
	// from a mirror URL: 302 bodies are padded to it, so that their length
	// does not depend on the mirror picked (ab counts a changing length as
	// a failure). Mirror URLs change only with the configuration, and a
	// new configuration builds a new engine.
	bodyWidth int
}

// Observer takes one observation: a Prometheus histogram does.
type Observer interface{ Observe(float64) }

// Locator fills in where a client is. geo.DB implements it.
type Locator interface {
	// Locate sets c's country, continent and coordinates from c.IP.
	Locate(c *strategy.Client)
	// LocateCountry sets them as if c were in country cc, reporting
	// whether cc is a known country code.
	LocateCountry(c *strategy.Client, cc string) bool
}

// ASNLookup finds a client's autonomous system. geo.ASNDB implements it.
type ASNLookup interface {
	// ASN returns the AS of addr, 0 when unknown.
	ASN(addr netip.Addr) uint32
}

// Operator is the running service as the operator endpoints see it.
type Operator interface {
	Status() *Status
	// PoolStatus returns one pool's part of Status; false for a pool not
	// served.
	PoolStatus(pool string) (PoolStatus, bool)
	// MetricsHandler serves /metrics.
	MetricsHandler() http.Handler
	// Ready reports whether the service is ready, with a one-line reason.
	Ready() (bool, string)
	// WeightFactors returns the factors behind the effective weights of a
	// pool's mirrors, by mirror name.
	WeightFactors(pool string) map[string]WeightFactors
	// History returns the samples taken after since (all for the zero
	// time).
	History(since time.Time) *History
	Reload(ctx context.Context) error
	// SetEnabled drains (false) or re-enables (true) a mirror.
	SetEnabled(ctx context.Context, pool, mirror string, enabled bool) error
}

// AccessLog writes one line per request (jsonlog.AccessLog does). It is
// called on the request path: it must not block.
type AccessLog interface {
	// Request logs a request that ended at end and took took. mirror
	// is "" when none was picked.
	Request(end time.Time, took time.Duration, method, path string, status int, client netip.Addr, mirror string)
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
	Locator Locator
	// ASN is nil when no ASN database is configured.
	ASN        ASNLookup
	Operator   Operator
	AdminToken string
	// Dashboard holds index.html and its assets for /status.
	Dashboard fs.FS
	// AccessLog writes one line per request; nil: no access log.
	AccessLog AccessLog
	// Stats counts downloads and answers /api/stats; nil: statistics
	// are off.
	Stats *stats.Recorder
}

// Handler holds the dependencies of the HTTP handlers. It is safe for
// concurrent use.
type Handler struct {
	log     *slog.Logger
	state   *strategy.State
	routes  []Route
	trusted []netip.Prefix
	locator Locator
	asn     ASNLookup
	op      Operator
	token   string
	dash    fs.FS
	// accessLog writes one line per request (nil: none).
	accessLog AccessLog
	// explain matches paths to pool routes for /api/explain.
	explain *gin.Engine
	// stats answers /api/stats and downloads counts them (nil: off).
	stats     *stats.Recorder
	downloads *stats.Counter
}

// New builds the gin engine serving every pool route and operator endpoint.
func New(o Options) *gin.Engine {
	h := &Handler{
		log:     o.Log,
		state:   o.State,
		routes:  append([]Route(nil), o.Routes...),
		trusted: o.Trusted,
		locator: o.Locator,
		asn:     o.ASN,
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
	if o.Stats != nil {
		h.stats, h.downloads = o.Stats, o.Stats.Counter
	}
	for i := range h.routes {
		h.routes[i].bodyWidth = bodyWidth(o.State, &h.routes[i])
	}
	r.Use(h.recovery)
	r.NoRoute(h.logged(func(c *gin.Context) { c.String(http.StatusNotFound, "404 not found\n") }))
	r.NoMethod(h.logged(func(c *gin.Context) { c.String(http.StatusMethodNotAllowed, "405 method not allowed\n") }))
	h.explain = h.explainRouter()
	h.Routes(r)
	return r
}
