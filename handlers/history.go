package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// History answers GET /api/history: per pool and mirror, time series of
// redirects per second, utilisation and effective weight, one point per
// sample, aligned with Times. A point is null where the mirror was not in
// the configuration, or no rate could be computed.
type History struct {
	IntervalSeconds float64       `json:"interval_s"`
	WindowSeconds   float64       `json:"window_s"`
	Times           []int64       `json:"times"` // Unix milliseconds
	Pools           []PoolHistory `json:"pools"`
}

// PoolHistory is one pool's mirrors in History.
type PoolHistory struct {
	Name    string          `json:"name"`
	Mirrors []MirrorHistory `json:"mirrors"`
}

// MirrorHistory is one mirror's series in History.
type MirrorHistory struct {
	Name               string     `json:"name"`
	RedirectsPerSecond []*float64 `json:"redirects_per_s"`
	Utilization        []*float64 `json:"utilization"`
	EffectiveWeight    []*float64 `json:"effective_weight"`
}

// history answers /api/history[?since=unix-ms]: the samples after since,
// or the whole window.
func (h *Handler) history(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	var since time.Time
	if s := c.Query("since"); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms < 0 {
			c.JSON(http.StatusBadRequest, gin.H{"error": "since is a time in Unix milliseconds"})
			return
		}
		since = time.UnixMilli(ms)
	}
	c.JSON(http.StatusOK, h.op.History(since))
}
