package handlers

import (
	"errors"
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
	if h.accessLog == nil {
		return f
	}
	return func(c *gin.Context) {
		start := time.Now()
		f(c)
		h.logRequest(c, start, ClientIP(c.Request, h.trusted), "")
	}
}

// logRequest writes the access-log line of one request.
func (h *Handler) logRequest(c *gin.Context, start time.Time, ip netip.Addr, mirror string) {
	h.accessLog.Request(start, c.Request.Method, c.Request.URL.Path, c.Writer.Status(), ip, mirror)
}
