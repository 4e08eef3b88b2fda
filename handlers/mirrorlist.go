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

// mirrorlist answers ?mirrorlist: 200 with the pool's usable mirrors ranked
// for this client, as JSON when the client accepts application/json and as
// HTML otherwise.
func (h *Handler) mirrorlist(c *gin.Context, route *Route, p *strategy.Pool, cl strategy.Client, req *reqPath, file fileRef) {
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
	c.Header("Cache-Control", "no-store")
	c.Header("Vary", "Accept")
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		body := gin.H{"pool": route.Pool, "client": gin.H{"ip": cl.IP.String(), "country": cl.Country, "continent": cl.Continent}, "mirrors": list}
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
		if e.Country != "" {
			b = append(b, " ("...)
			b = appendHTMLEscaped(b, e.Country)
			b = append(b, ')')
		}
		b = append(b, "</li>\n"...)
	}
	b = append(b, "</ol>\n"...)
	c.Data(http.StatusOK, "text/html; charset=utf-8", b)
}
