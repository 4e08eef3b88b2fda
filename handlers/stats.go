package handlers

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/dispatcher/dispatcher/internal/clock"
	"github.com/dispatcher/dispatcher/stats"
)

// Download statistics: what counts, and /api/stats.

// countDownload counts a 302 to mirror, for a request that began at
// start (0: now), as a download when it is one: a GET that does not
// resume (see resumes). file is the request path, or for a pool that does
// not append it, the route's own path: an ad slot counts impressions per
// creative (the mirror), and no request makes a key of its own. country
// is where the client's address places it.
func (h *Handler) countDownload(c *gin.Context, route *Route, start clock.Instant, mirror, country string) {
	r := c.Request
	if h.downloads == nil || r.Method != http.MethodGet || resumes(firstValue(r.Header[hdrRange])) {
		return
	}
	file := r.URL.Path
	if !route.AppendPath {
		file = c.FullPath()
	}
	if start == 0 {
		start = clock.Now()
	}
	h.downloads.Add(route.Pool, stats.DayOf(start.Wall()), file, mirror, country)
}

// resumes reports whether a Range header asks for a download already
// begun: its first range starts past byte 0 ("bytes=N-…" with N > 0), or
// is a suffix ("bytes=-N", the end of the file). "bytes=0-…" is a new
// download; a header that does not parse is not a resumption.
func resumes(rng string) bool {
	spec, ok := strings.CutPrefix(rng, "bytes=")
	if !ok {
		return false
	}
	first, _, _ := strings.Cut(spec, ",")
	start, _, ok := strings.Cut(strings.TrimSpace(first), "-")
	if !ok {
		return false
	}
	if start == "" {
		return true
	}
	n, err := strconv.ParseUint(start, 10, 64)
	return err == nil && n > 0
}

// statsTopFiles is the rows of by=file when top is not given.
const statsTopFiles = 100

// statsDays is the range when from is not given: the week to to.
const statsDays = 7

// statsHandler answers GET /api/stats?pool=P&by=day|mirror|country|file
// [&from=YYYY-MM-DD][&to=YYYY-MM-DD][&top=N][&format=csv].
func (h *Handler) statsHandler(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	if h.stats == nil {
		c.JSON(http.StatusNotFound, gin.H{"error": `download statistics are off ("stats": {"enabled": false})`})
		return
	}
	q, status, err := h.statsQuery(c)
	if err != nil {
		c.JSON(status, gin.H{"error": err.Error()})
		return
	}
	res, err := stats.Run(c.Request.Context(), h.stats.Backend(), q)
	if err != nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the statistics could not be read: " + err.Error()})
		return
	}
	switch c.Query("format") {
	case "", "json":
		c.JSON(http.StatusOK, res)
	case "csv":
		c.Header("Content-Type", "text/csv; charset=utf-8")
		// Pool names are letters, digits, '.', '_' and '-' (the
		// configuration checks them): safe in a quoted file name.
		c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s-%s-%s.csv"`, res.Pool, res.By, res.From, res.To))
		c.Status(http.StatusOK)
		w := csv.NewWriter(c.Writer)
		w.Write([]string{res.By, "downloads", "error"}) //nolint:errcheck // w.Error is checked below
		for _, r := range res.Rows {
			w.Write([]string{r.Key, strconv.FormatUint(r.Downloads, 10), strconv.FormatUint(r.Error, 10)}) //nolint:errcheck // as above
		}
		if res.Other > 0 {
			w.Write([]string{"(other)", strconv.FormatUint(res.Other, 10), "0"}) //nolint:errcheck // as above
		}
		w.Flush()
		if err := w.Error(); err != nil {
			h.log.Debug("stats csv not written", "err", err.Error())
		}
	default:
		c.JSON(http.StatusBadRequest, gin.H{"error": fmt.Sprintf("format must be json or csv, got %q", c.Query("format"))})
	}
}

// statsQuery reads the query of /api/stats, with the status of what is
// wrong with it.
func (h *Handler) statsQuery(c *gin.Context) (stats.Query, int, error) {
	q := stats.Query{Pool: c.Query("pool"), By: c.DefaultQuery("by", stats.ByDay)}
	pools := h.poolNames()
	if q.Pool == "" {
		if len(pools) != 1 {
			return q, http.StatusBadRequest, fmt.Errorf("pool is required (one of %s)", strings.Join(pools, ", "))
		}
		q.Pool = pools[0]
	}
	known := false
	for _, p := range pools {
		known = known || p == q.Pool
	}
	if !known {
		return q, http.StatusNotFound, fmt.Errorf("no pool %q (pools: %s)", q.Pool, strings.Join(pools, ", "))
	}
	today := stats.DayOf(time.Now())
	q.To = today
	if s := c.Query("to"); s != "" {
		d, err := stats.ParseDay(s)
		if err != nil {
			return q, http.StatusBadRequest, fmt.Errorf("to: %w", err)
		}
		q.To = d
	}
	q.From = q.To - (statsDays - 1)
	if s := c.Query("from"); s != "" {
		d, err := stats.ParseDay(s)
		if err != nil {
			return q, http.StatusBadRequest, fmt.Errorf("from: %w", err)
		}
		q.From = d
	}
	if q.By == stats.ByFile {
		q.Top = statsTopFiles
	}
	if s := c.Query("top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return q, http.StatusBadRequest, fmt.Errorf("top must be a whole number of at least 1, got %q", s)
		}
		q.Top = n
	}
	if err := q.Check(); err != nil {
		return q, http.StatusBadRequest, err
	}
	return q, http.StatusOK, nil
}

// poolNames lists the pools the routes serve, each once, in order.
func (h *Handler) poolNames() []string {
	var names []string
	for _, r := range h.routes {
		dup := false
		for _, n := range names {
			dup = dup || n == r.Pool
		}
		if !dup {
			names = append(names, r.Pool)
		}
	}
	return names
}
