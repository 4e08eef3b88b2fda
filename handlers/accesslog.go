package handlers

import (
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/gin-gonic/gin"
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
