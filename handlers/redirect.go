package handlers

import (
	"encoding/base64"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/dispatcher/dispatcher/internal/clock"
	"github.com/dispatcher/dispatcher/strategy"
)

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
	if h.accessLog == nil && route.Duration == nil {
		return func(c *gin.Context) { h.serveRedirect(c, route, 0) }
	}
	return func(c *gin.Context) {
		start := clock.Now()
		ip, mirror := h.serveRedirect(c, route, start)
		took := start.Since()
		if route.Duration != nil {
			route.Duration.Observe(took.Seconds())
		}
		if h.accessLog != nil {
			h.logRequest(c, start, took, ip, mirror)
		}
	}
}

// serveRedirect answers one request on a pool route, which began at start
// (0: not measured), and returns the client address and the mirror name
// ("" when none) for the access log.
func (h *Handler) serveRedirect(c *gin.Context, route *Route, start clock.Instant) (netip.Addr, string) {
	r := c.Request
	var cl strategy.Client
	cl.IP, cl.Secure = resolveClient(r, h.trusted)
	ctl := parseControls(r.URL.RawQuery)
	h.placeClient(route, &cl, &ctl)
	country := cl.Country // by the address, for the statistics
	req, ok := newReqPath(r.URL, route.Files != nil)
	if !ok {
		c.String(http.StatusBadRequest, "400 bad request: %v\n", errBadPath)
		return cl.IP, ""
	}
	p := h.state.Load().Pool(route.Pool)
	if p == nil {
		// The snapshot and the routes come from one configuration; a pool
		// missing from it is a bug, answered as an unusable pool.
		return cl.IP, h.noMirror(c, route, &req)
	}
	var file fileRef
	var answer fileAnswer
	if route.Files != nil {
		file, answer = resolveFile(route, r, &cl)
	}
	// The mirrors the rules let this client have, among the file's
	// holders; then the controls move it for the strategy.
	if p.HasRules() {
		var buf []uint64
		if cl.Only != nil {
			// The file's holders ANDed with the place's mask.
			bp := maskBufs.Get().(*[]uint64)
			defer maskBufs.Put(bp)
			buf = (*bp)[:0]
		}
		cl.Only = p.Eligible(&cl, buf)
	}
	h.applyControls(&cl, &ctl)
	if route.Files != nil {
		switch answer {
		case fileNotFound:
			c.String(http.StatusNotFound, "404 not found: the origin has no such file\n")
			return cl.IP, ""
		case fileFallback:
			if p.Unserved != nil {
				p.Unserved.Add(1)
			}
			return cl.IP, h.noMirror(c, route, &req)
		case fileMeta4:
			h.metalink(c, route, p, cl, file)
			return cl.IP, ""
		case fileSHA256:
			h.sha256Line(c, file)
			return cl.IP, ""
		case fileOrigin:
			return cl.IP, h.toOrigin(c, route, &req)
		}
	}
	if ctl.mirrorlist {
		h.mirrorlist(c, route, p, cl, &req, file, &ctl)
		return cl.IP, ""
	}
	// A download route names the next mirrors in a Link header: the
	// strategy ranks them with its pick.
	wantLinks := route.AppendPath && p.Usable() > 1
	var rankBuf [maxLinks + 1]int
	var ranked []int
	m := p.Find(ctl.mirror)
	if m == nil || !m.Usable() || !cl.Allows(m.Index) {
		var err error
		if wantLinks {
			m, ranked, err = strategy.PickRank(r.Context(), p, cl, rankBuf[:0], maxLinks+1)
		} else {
			m, err = p.Strategy.Pick(r.Context(), p, cl)
		}
		if err != nil {
			if p.Unserved != nil {
				p.Unserved.Add(1)
			}
			return cl.IP, h.noMirror(c, route, &req)
		}
	} else if wantLinks {
		ranked = strategy.Rank(p, cl, rankBuf[:0], maxLinks+1)
	}
	// The buffer goes back to the pool at the end, not in a defer: a
	// panic in between only leaves it to the collector.
	bp := bufPool.Get().(*[]byte)
	// One allocation holds the per-response header values: the Location,
	// the file's digest when it is known, and the Link value.
	buf := req.appendLocation((*bp)[:0], m.URL, route.AppendPath)
	locEnd := len(buf)
	sum, hashed := file.sha256()
	if hashed {
		buf = appendReprDigest(buf, &sum)
	}
	digestEnd := len(buf)
	if wantLinks {
		buf = appendLinks(buf, p, ranked, m, &req)
	}
	if hashed {
		buf = appendDescribedBy(buf, digestEnd, &req)
	}
	vals := new([4]string)
	all := string(buf)
	vals[0], vals[1], vals[2], vals[3] = all[:locEnd], m.Name, all[locEnd:digestEnd], all[digestEnd:]
	hdr := c.Writer.Header()
	hdr["Location"] = vals[0:1:1]
	hdr["X-Mirror"] = vals[1:2:2]
	hdr["Cache-Control"] = hdrNoStore
	hdr["Content-Type"] = hdrHTML
	if hashed {
		hdr["Repr-Digest"] = vals[2:3:3]
	}
	if len(vals[3]) > 0 {
		hdr["Link"] = vals[3:4:4]
	}
	if m.Redirects != nil {
		m.Redirects.Add(1)
	}
	h.countDownload(c, route, start, m.Name, country)
	c.Writer.WriteHeader(http.StatusFound)
	if r.Method != http.MethodHead {
		// net/http adds the Content-Length of a body this small.
		body := append(buf[:0], `<a href="`...) // the values are copied out: its bytes are free
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
	bufPool.Put(bp)
	return cl.IP, m.Name
}

// appendReprDigest appends the RFC 9530 Repr-Digest value of a file whose
// SHA-256 is sum: "sha-256=:<base64>:". A client that follows the 302
// can check what it got without asking again.
func appendReprDigest(dst []byte, sum *[32]byte) []byte {
	dst = append(dst, "sha-256=:"...)
	dst = base64.StdEncoding.AppendEncode(dst, sum[:])
	return append(dst, ':')
}

// appendDescribedBy appends the link to the file's Metalink (its path and
// .meta4, on this server) to the Link value that begins at dst[start:];
// it is left out, as a mirror's link is, when it would take the value
// past maxLinkBytes.
func appendDescribedBy(dst []byte, start int, req *reqPath) []byte {
	keep := len(dst)
	if len(dst) > start {
		dst = append(dst, ", "...)
	}
	dst = append(dst, '<')
	dst = append(dst, req.escaped...)
	dst = append(dst, `.meta4>; rel=describedby; type="application/metalink4+xml"`...)
	if len(dst)-start > maxLinkBytes {
		return dst[:keep]
	}
	return dst
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

// appendLinks appends to dst the RFC 6249 links to the best mirrors of
// ranked after picked, so that download managers can fail over: a Link
// value that stays within maxLinkBytes.
func appendLinks(dst []byte, p *strategy.Pool, ranked []int, picked *strategy.Mirror, req *reqPath) []byte {
	start := len(dst)
	n := 0
	for _, i := range ranked {
		m := &p.Mirrors[i]
		if m == picked || n == maxLinks {
			continue
		}
		keep := len(dst)
		if n > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, '<')
		dst = req.appendLocation(dst, m.URL, true)
		dst = append(dst, ">; rel=duplicate; pri="...)
		dst = strconv.AppendInt(dst, int64(n+1), 10)
		if len(dst)-start > maxLinkBytes {
			dst = dst[:keep]
			break
		}
		n++
	}
	return dst
}

// noMirror answers when no mirror of the pool is usable: a 302 to the
// fallback, which follows the pool's append_path as a mirror's URL does
// (a download pool's fallback gets the request path, so it can be the
// origin's own server), else 503. It returns what the access log names
// as the mirror.
func (h *Handler) noMirror(c *gin.Context, route *Route, req *reqPath) string {
	hdr := c.Writer.Header()
	hdr["Cache-Control"] = hdrNoStore
	if route.Fallback != "" {
		hdr["X-Mirror"] = []string{"fallback"}
		c.Redirect(http.StatusFound, string(req.appendLocation(nil, route.Fallback, route.AppendPath)))
		return "fallback"
	}
	hdr["Retry-After"] = []string{"10"}
	c.String(http.StatusServiceUnavailable, "503 no mirror of pool %s is available\n", route.Pool)
	return ""
}

// toOrigin answers a path the pool sends to its origin (origin_paths,
// min_size): a 302 to origin_url with the path. It returns what the
// access log names as the mirror.
func (h *Handler) toOrigin(c *gin.Context, route *Route, req *reqPath) string {
	hdr := c.Writer.Header()
	hdr["Cache-Control"] = hdrNoStore
	hdr["X-Mirror"] = []string{"origin"}
	c.Redirect(http.StatusFound, string(req.appendLocation(nil, route.OriginURL, true)))
	return "origin"
}

// maskBufs recycles the masks of eligible mirrors requests build in
// pools with rules (pools of up to 4,096 mirrors; a larger one allocates).
var maskBufs = sync.Pool{New: func() any { b := make([]uint64, 0, 64); return &b }}

// controls are the client controls a pool route reads from its query.
type controls struct {
	country    string
	as         uint32
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
		case "as":
			ctl.as = parseAS(v)
		case "mirror":
			ctl.mirror = v
		case "mirrorlist":
			ctl.mirrorlist = true
		}
	}
	return ctl
}
