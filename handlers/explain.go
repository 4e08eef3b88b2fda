package handlers

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/dispatcher/dispatcher/internal/glob"
	"github.com/dispatcher/dispatcher/strategy"
)

type explainKey struct{}

// explainRouter returns a router with the pool routes only, whose
// handlers name the route they match: /api/explain matches a path exactly
// as requests are matched.
func (h *Handler) explainRouter() *gin.Engine {
	r := gin.New()
	r.RedirectTrailingSlash, r.RedirectFixedPath = false, false
	for i := range h.routes {
		route := &h.routes[i]
		for _, p := range route.Paths {
			r.GET(p, func(c *gin.Context) {
				*c.Request.Context().Value(explainKey{}).(**Route) = route
			})
		}
	}
	return r
}

// matchRoute returns the pool route that serves path, or nil.
func (h *Handler) matchRoute(path string) *Route {
	var found *Route
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.URL.Path, req.URL.RawPath = path, ""
	req = req.WithContext(context.WithValue(req.Context(), explainKey{}, &found))
	h.explain.ServeHTTP(httptest.NewRecorder(), req)
	return found
}

// explainHandler answers GET /api/explain?path=…[&ip=…][&country=…].
// Anyone may ask about their own address or a country; the ip parameter
// needs the admin token. One call costs O(mirrors): exact shares, no
// sampled picks.
func (h *Handler) explainHandler(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	path := c.Query("path")
	if path == "" || path[0] != '/' {
		c.JSON(http.StatusBadRequest, gin.H{"error": "path is required and starts with / (e.g. path=/pub/a.iso)"})
		return
	}
	route := h.matchRoute(path)
	if route == nil {
		c.JSON(http.StatusNotFound, gin.H{"error": fmt.Sprintf("no pool route serves %s", path)})
		return
	}
	p := h.state.Load().Pool(route.Pool)
	if p == nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the pool " + route.Pool + " is not in the snapshot being served"})
		return
	}
	ec, cl, ok := h.explainClient(c)
	if !ok {
		return
	}
	country := c.Query("country")
	var as uint32
	if a := c.Query("as"); a != "" {
		if as = parseAS(a); as == 0 {
			c.JSON(http.StatusBadRequest, gin.H{"error": fmt.Sprintf("as %q is not an AS number (e.g. as=3320)", a)})
			return
		}
	}
	ex, err := h.explainPath(route, p, path, ec, cl, country, as)
	if err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}
	bp := explainBufs.Get().(*[]byte)
	*bp = ex.AppendJSON((*bp)[:0])
	c.Data(http.StatusOK, "application/json; charset=utf-8", *bp)
	if cap(*bp) <= 4<<20 {
		explainBufs.Put(bp)
	}
}

// explainBufs holds the buffers explanations are written into: half a
// megabyte at 1,000 mirrors, garbage after every call otherwise. A buffer
// grown past 4 MiB (tens of thousands of mirrors) is left to the
// collector.
var explainBufs = sync.Pool{New: func() any { return new([]byte) }}

// explainPath explains path in route's pool p for the client cl (its address
// and scheme; ec as the caller resolved it), placed as a request is: by
// its address for the rules, then moved by country and as ("" and 0:
// not) for the strategy. The error is for a country it does not know.
func (h *Handler) explainPath(route *Route, p *strategy.Pool, path string, ec ExplainedClient, cl strategy.Client, country string, as uint32) (Explanation, error) {
	ex := Explanation{Path: path, Client: ec, Pool: route.Pool, Strategy: route.Strategy, Mirrors: make([]ExplainedMirror, 0, len(p.Mirrors))}
	if h.locator != nil {
		h.locator.Locate(&cl)
	}
	if route.NeedsASN && h.asn != nil && cl.IP.IsValid() {
		cl.ASN = h.asn.ASN(cl.IP)
	}
	holds, failed := h.explainFile(route, path, &ex, &cl)
	cl.Only = p.Eligible(&cl, nil)
	byAddress := cl
	if country != "" {
		if h.locator == nil || !h.locator.LocateCountry(&cl, strings.ToUpper(country)) {
			return ex, fmt.Errorf("country %q is not a known ISO 3166 code (or no geo database is loaded)", country)
		}
	}
	if as != 0 {
		cl.ASN = as
	}
	ex.Client.Country, ex.Client.Continent, ex.Client.ASN = cl.Country, cl.Continent, cl.ASN
	if cl.HasLoc {
		lat, lon := math.Round(cl.Lat*100)/100, math.Round(cl.Lon*100)/100
		ex.Client.Lat, ex.Client.Lon = &lat, &lon
	}
	shares, now := strategy.Shares(p, cl)
	reachable := make([]bool, len(p.Mirrors))
	for _, i := range strategy.Rank(p, strategy.Client{IP: cl.IP, Secure: cl.Secure}, nil, 0) {
		reachable[i] = true
	}
	preferred := p.Preferred(&byAddress)
	factors := h.op.WeightFactors(route.Pool)
	ps, _ := h.op.PoolStatus(route.Pool)
	status := make(map[string]*MirrorStatus, len(ps.Mirrors))
	for i := range ps.Mirrors {
		status[ps.Mirrors[i].Name] = &ps.Mirrors[i]
	}
	for i := range p.Mirrors {
		m := &p.Mirrors[i]
		st := status[m.Name]
		if st == nil {
			st = &MirrorStatus{}
		}
		em := ExplainedMirror{Name: m.Name, Weight: m.Weight, EffectiveWeight: m.Effective, Usable: m.Usable(),
			Share: math.Round(shares[i].Share*1000) / 1000,
			Factors: ExplainFactors{WeightFactors: factors[m.Name], Up: st.Up, ProbeError: st.ProbeError,
				Utilization: st.Utilization, PollError: st.PollError, Tier: shares[i].Tier, FailedCheck: i < len(failed) && failed[i],
				Reachable: reachable[i] || !m.Usable()}}
		if i < len(holds) {
			h := holds[i]
			em.Factors.HoldsFile = &h
		}
		em.Factors.Excluded = exclusions(m, &byAddress, preferred[i])
		em.Reason = reason(&em, route.Strategy, now != nil && now.Index == i)
		ex.Mirrors = append(ex.Mirrors, em)
	}
	switch {
	case ex.File != nil && ex.File.Answer == "origin":
		ex.Note = "this path goes to the origin " + route.OriginURL + " (origin_paths or min_size), not to a mirror"
	case now != nil:
		ex.Mirror = &now.Name
		if route.Strategy == "random" || route.Strategy == "geo" {
			ex.Note = "the strategy draws at random: mirror is one draw, share the odds"
		}
	case route.Strategy == "roundrobin" && p.Usable() > 0:
		ex.Note = "round robin: the next request takes the next position of the shared cycle; share is each mirror's part of the cycle (explain does not take a position)"
	case route.Fallback != "":
		ex.Note = "no mirror is usable for this request: it goes to the fallback " + route.Fallback
		if route.AppendPath {
			ex.Note += " (with the request path)"
		}
	default:
		ex.Note = "no mirror is usable for this request: it gets 503"
	}
	return ex, nil
}

// explainClient resolves the client of an explanation: the ip parameter,
// else the request's own address as requests resolve it.
func (h *Handler) explainClient(c *gin.Context) (ExplainedClient, strategy.Client, bool) {
	var cl strategy.Client
	var ec ExplainedClient
	r := c.Request
	if s := c.Query("ip"); s != "" {
		// Explaining another address tells which mirror and location
		// any client gets: an operator's question, asked with the token.
		if !h.authorized(c) {
			return ec, cl, false
		}
		ip, err := netip.ParseAddr(s)
		if err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": fmt.Sprintf("ip %q is not an IP address", s)})
			return ec, cl, false
		}
		cl.IP = ip.Unmap()
		ec.Source = "the ip parameter (it explains; requests are routed by their own address)"
	} else {
		cl.IP, cl.Secure = resolveClient(r, h.trusted)
		if peer := parseHostPort(r.RemoteAddr); peer != cl.IP {
			ec.Source = "a forwarding header of the trusted proxy " + peer.String()
		} else {
			ec.Source = "the connection"
		}
	}
	ec.IP, ec.Secure = cl.IP.String(), cl.Secure
	return ec, cl, true
}

// explainFile fills in what a file-aware route knows of path, restricts
// cl to its holders as a request would be, and returns per mirror whether
// it holds the file (nil: the route is not file-aware, or not scanned) and
// whether verify took it out. It hands nothing to verify.
func (h *Handler) explainFile(route *Route, path string, ex *Explanation, cl *strategy.Client) (holds, failed []bool) {
	if route.Files == nil {
		return nil, nil
	}
	ex.File = &ExplainedFile{}
	if route.OriginURL != "" && glob.Any(route.OriginPaths, strings.TrimPrefix(path, "/")) {
		ex.File.Answer = "origin"
	}
	v := route.Files.View()
	if v == nil {
		return nil, nil
	}
	ex.File.Scanned = true
	name := strings.TrimPrefix(path, "/")
	id, ok := v.Index.Lookup(name)
	if !ok {
		ex.File.Answer = route.Unknown
		if ex.File.Answer == "" {
			ex.File.Answer = "any"
		}
		return nil, nil
	}
	size := v.Index.Size(id)
	ex.File.Known, ex.File.Size = true, &size
	if route.OriginURL != "" && route.MinSize > 0 && size < route.MinSize {
		ex.File.Answer = "origin"
	}
	choice, verdict := chooseFile(route, v, id, name, false)
	cl.Only = choice.Only
	ex.File.Confirmed = choice.Confirmed
	if !choice.Confirmed && route.Fallback != "" {
		ex.File.Answer = "fallback"
		cl.Only = make([]uint64, len(v.Mirrors)/64+1) // no mirror gets it
	}
	holds, failed = make([]bool, len(v.Mirrors)), make([]bool, len(v.Mirrors))
	for i := range v.Mirrors {
		holds[i] = choice.Only == nil || bit(choice.Only, i)
		failed[i] = verdict != nil && bit(verdict.Failed, i)
		if holds[i] && choice.Confirmed {
			ex.File.Holders++
		}
	}
	return holds, failed
}

// exclusions lists the rules that keep m from client c (placed by its
// address), or put it behind the mirrors c's https/IPv6 set prefers.
func exclusions(m *strategy.Mirror, c *strategy.Client, preferred bool) []ExcludedBy {
	var out []ExcludedBy
	if rule := m.Excluded(c); rule != "" {
		out = append(out, ExcludedBy{Rule: rule, Reason: m.ExclusionReason(rule, c)})
	}
	if m.Usable() && !preferred {
		if c.Secure && !m.HTTPS {
			out = append(out, ExcludedBy{Rule: "scheme", Reason: "the client came over https: https mirrors first, and this one serves plain http"})
		}
		if c.IP.Is6() && !m.IPv6 {
			out = append(out, ExcludedBy{Rule: strategy.RuleFamily, Reason: "the client has an IPv6 address: mirrors reachable over IPv6 first, and this one is not"})
		}
	}
	return out
}

// percent writes a fraction as a percentage with digits decimals.
func percent(x float64, digits int) string {
	return strconv.FormatFloat(100*x, 'f', digits, 64) + "%"
}

func bit(mask []uint64, i int) bool { return i/64 < len(mask) && mask[i/64]>>(i%64)&1 == 1 }

// reason says in a few words why a mirror gets its share.
func reason(m *ExplainedMirror, strat string, picked bool) string {
	f := &m.Factors
	switch {
	case !f.Configured:
		return "disabled in the configuration"
	case f.Drained:
		return "drained by an operator"
	case f.Health == 0:
		if f.ProbeError != "" {
			return "down: " + f.ProbeError
		}
		return "down: its health probes fail"
	case len(f.Excluded) > 0 && m.Share == 0:
		return f.Excluded[0].Rule + ": " + f.Excluded[0].Reason
	case f.HoldsFile != nil && !*f.HoldsFile:
		return "lacks the file, or holds another copy (its listing)"
	case f.FailedCheck:
		return "failed a check of the file (verify)"
	case m.Weight == 0:
		return "weight 0 in the configuration: drained"
	case !m.Usable:
		return "saturated: no bandwidth headroom (utilisation " + percent(f.Utilization, 0) + ")"
	case m.Share == 0 && !f.Reachable:
		return "not reachable the way this client needs (https or IPv6)"
	case m.Share == 0 && strat == "geo":
		return "in the " + f.Tier + " tier, farther than the mirrors that get this client"
	case m.Share == 0 && strat == "iphash":
		return "another mirror ranks first for this client's address (rendezvous hashing)"
	case m.Share == 0:
		return "gets none of this client's requests"
	}
	s := "gets " + percent(m.Share, 1) + " of this client's requests"
	if f.Tier != "" {
		s += " (" + f.Tier + " tier)"
	}
	if f.Headroom < 1 {
		s += "; weight cut to " + percent(f.Headroom, 0) + " by bandwidth headroom"
	}
	if f.Capacity < 1 {
		s += "; a link " + percent(f.Capacity, 0) + " of the pool's largest"
	}
	if f.Ramp < 1 {
		s += "; ramping up after coming back (" + percent(f.Ramp, 0) + ")"
	}
	if picked {
		s += "; picked now"
	}
	return s
}
