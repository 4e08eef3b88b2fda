package handlers

import (
	"crypto/subtle"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

func (h *Handler) healthz(c *gin.Context) { c.String(http.StatusOK, "ok\n") }

func (h *Handler) readyz(c *gin.Context) {
	ok, msg := h.op.Ready()
	code := http.StatusOK
	if !ok {
		code = http.StatusServiceUnavailable
	}
	c.String(code, "%s\n", msg)
}

func (h *Handler) status(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, h.op.Status())
}

func (h *Handler) metrics(c *gin.Context) { h.op.MetricsHandler().ServeHTTP(c.Writer, c.Request) }

// admin lets a request through only with the admin bearer token.
func (h *Handler) admin(c *gin.Context) {
	if h.authorized(c) {
		c.Next()
	}
}

// authorized reports whether the request carries the admin bearer token;
// when it does not, it answers 403 (no token is set) or 401 and aborts.
func (h *Handler) authorized(c *gin.Context) bool {
	if h.token == "" {
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "admin API disabled: DISPATCHER_ADMIN_TOKEN is not set"})
		return false
	}
	// RFC 7235: the scheme is case-insensitive ("bearer", "BEARER").
	scheme, got, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	ok = ok && strings.EqualFold(scheme, "Bearer")
	got = strings.TrimLeft(got, " ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(h.token)) != 1 {
		c.Header("WWW-Authenticate", `Bearer realm="dispatcher"`)
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "missing or wrong bearer token"})
		return false
	}
	return true
}

func (h *Handler) reload(c *gin.Context) {
	if err := h.op.Reload(c.Request.Context()); err != nil {
		c.JSON(http.StatusUnprocessableEntity, gin.H{"error": "reload rejected; the old configuration keeps serving", "details": strings.Split(err.Error(), "\n")})
		return
	}
	c.JSON(http.StatusOK, gin.H{"reloaded": true, "config_sha256": h.op.Status().ConfigSHA256})
}

func (h *Handler) setEnabled(c *gin.Context) {
	var enabled bool
	switch c.Param("action") {
	case "drain":
	case "enable":
		enabled = true
	default:
		c.JSON(http.StatusNotFound, gin.H{"error": "unknown action " + strconv.Quote(c.Param("action")) + " (want drain or enable)"})
		return
	}
	pool, mirror := c.Param("pool"), c.Param("mirror")
	if err := h.op.SetEnabled(c.Request.Context(), pool, mirror, enabled); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrNotFound) {
			code = http.StatusNotFound
		}
		c.JSON(code, gin.H{"error": err.Error()})
		return
	}
	c.JSON(http.StatusOK, gin.H{"pool": pool, "mirror": mirror, "enabled": enabled})
}

func (h *Handler) dashboard(c *gin.Context) {
	if h.dash == nil {
		c.String(http.StatusNotFound, "404 no dashboard\n")
		return
	}
	name := strings.TrimPrefix(c.Param("asset"), "/")
	if name == "" {
		name = "index.html"
	}
	data, err := fs.ReadFile(h.dash, name)
	if err != nil {
		c.String(http.StatusNotFound, "404 not found\n")
		return
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, ctype, data)
}
