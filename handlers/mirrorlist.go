package handlers

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/dispatcher/dispatcher/strategy"
)

// mirrorlistEntry is one mirror in a ?mirrorlist answer.
type mirrorlistEntry struct {
	Rank      int     `json:"rank"`
	Name      string  `json:"name"`
	URL       string  `json:"url"`
	Country   string  `json:"country,omitempty"`
	Continent string  `json:"continent,omitempty"`
	Weight    float64 `json:"effective_weight"`
}

// leftOutEntry is a mirror of the pool a ?mirrorlist does not rank for
// this client, and why.
type leftOutEntry struct {
	Name    string `json:"name"`
	Country string `json:"country,omitempty"`
	Reason  string `json:"reason"`
}

// mirrorlist answers ?mirrorlist: 200 with the pool's usable mirrors ranked
// for this client, then the ones left out with the reason /api/explain
// gives, as JSON when the client accepts application/json and as HTML
// otherwise.
func (h *Handler) mirrorlist(c *gin.Context, route *Route, p *strategy.Pool, cl strategy.Client, req *reqPath, file fileRef, ctl *controls) {
	fi := newFileInfo(file)
	r := c.Request
	ranked := strategy.Rank(p, cl, nil, 0)
	list := make([]mirrorlistEntry, 0, len(ranked))
	for n, i := range ranked {
		m := &p.Mirrors[i]
		loc := req.appendLocation(nil, m.URL, route.AppendPath)
		list = append(list, mirrorlistEntry{Rank: n + 1, Name: m.Name, URL: string(loc),
			Country: m.Country, Continent: m.Continent, Weight: m.Effective})
	}
	leftOut := h.leftOut(route, p, r.URL.Path, cl, ctl, ranked)
	c.Header("Cache-Control", "no-store")
	c.Header("Vary", "Accept")
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		body := gin.H{"pool": route.Pool, "client": gin.H{"ip": cl.IP.String(), "country": cl.Country, "continent": cl.Continent},
			"mirrors": list, "left_out": leftOut}
		if fi != nil {
			body["file"] = fi
		}
		c.JSON(http.StatusOK, body)
		return
	}
	b := []byte("<!doctype html>\n<meta charset=utf-8>\n<title>Mirrors</title>\n<h1>Mirrors of ")
	b = appendHTMLEscaped(b, route.Pool)
	b = append(b, "</h1>\n"...)
	if fi != nil {
		b = append(b, "<p>"...)
		b = appendHTMLEscaped(b, fi.String())
		b = append(b, "</p>\n"...)
	}
	b = append(b, "<ol>\n"...)
	for _, e := range list {
		b = append(b, `<li><a href="`...)
		b = appendHTMLEscaped(b, e.URL)
		b = append(b, `">`...)
		b = appendHTMLEscaped(b, e.Name)
		b = append(b, "</a>"...)
		b = appendCountry(b, e.Country)
		b = append(b, "</li>\n"...)
	}
	b = append(b, "</ol>\n"...)
	if len(leftOut) > 0 {
		b = append(b, "<h2>Left out for you</h2>\n<ul class=left-out>\n"...)
		for _, e := range leftOut {
			b = append(b, "<li><b>"...)
			b = appendHTMLEscaped(b, e.Name)
			b = append(b, "</b>"...)
			b = appendCountry(b, e.Country)
			b = append(b, ": "...)
			b = appendHTMLEscaped(b, e.Reason)
			b = append(b, "</li>\n"...)
		}
		b = append(b, "</ul>\n"...)
	}
	c.Data(http.StatusOK, "text/html; charset=utf-8", b)
}

// appendCountry appends " (CC)" for a mirror's country, nothing without
// one.
func appendCountry(b []byte, cc string) []byte {
	if cc == "" {
		return b
	}
	b = append(b, " ("...)
	b = appendHTMLEscaped(b, cc)
	return append(b, ')')
}

// leftOut returns the mirrors of p that ranked (the mirrors a request of
// client cl can get) leaves out, each with the reason /api/explain gives
// for the same client and path.
func (h *Handler) leftOut(route *Route, p *strategy.Pool, path string, cl strategy.Client, ctl *controls, ranked []int) []leftOutEntry {
	out := []leftOutEntry{}
	if len(ranked) == len(p.Mirrors) {
		return out
	}
	byAddress := strategy.Client{IP: cl.IP, Secure: cl.Secure}
	ex, err := h.explainPath(route, p, path, ExplainedClient{}, byAddress, ctl.country, ctl.as)
	if err != nil { // a ?country= the request ignored too
		ex, _ = h.explainPath(route, p, path, ExplainedClient{}, byAddress, "", ctl.as)
	}
	in := make([]bool, len(p.Mirrors))
	for _, i := range ranked {
		in[i] = true
	}
	for i := range p.Mirrors {
		if !in[i] && i < len(ex.Mirrors) {
			out = append(out, leftOutEntry{Name: p.Mirrors[i].Name, Country: p.Mirrors[i].Country, Reason: ex.Mirrors[i].Reason})
		}
	}
	return out
}
