package handlers

import (
	"errors"
	"net/http"
	"net/netip"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/dispatcher/dispatcher/internal/clock"
)

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
	start := clock.Now()
	c.Next()
	h.logRequest(c, start, start.Since(), ClientIP(c.Request, h.trusted), "")
}

// logged wraps f with the access log when it is on.
func (h *Handler) logged(f gin.HandlerFunc) gin.HandlerFunc {
	if h.accessLog == nil {
		return f
	}
	return func(c *gin.Context) {
		start := clock.Now()
		f(c)
		h.logRequest(c, start, start.Since(), ClientIP(c.Request, h.trusted), "")
	}
}

// logRequest writes the access-log line of one request, which began at
// start and took took.
func (h *Handler) logRequest(c *gin.Context, start clock.Instant, took time.Duration, ip netip.Addr, mirror string) {
	h.accessLog.Request(start.Add(took).Wall(), took, c.Request.Method, c.Request.URL.Path, c.Writer.Status(), ip, mirror)
}
