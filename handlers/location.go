package handlers

import (
	"errors"
	"net/url"
	"strings"
)

// errBadPath is returned for request paths with dot segments: no client
// sends them (browsers and curl resolve them first), and on a mirror whose
// URL has a path they would climb above it.
var errBadPath = errors.New("path has a dot segment")

// controlParams are the client controls read by the dispatcher and removed
// from the Location.
var controlParams = [...]string{"country", "mirror", "mirrorlist"}

// reqPath is the part of a request a Location is built from: its escaped
// path (url.URL.EscapedPath, computed once) and its query.
type reqPath struct{ escaped, query string }

// newReqPath checks the request path once; ok is false for a path with a
// dot segment. With decoded set (a file-aware pool), the path is escaped
// again from its decoded form, so that the mirror is asked for the very
// file that was looked up: "/pub/a%2Fb.iso" is looked up and sent as
// "/pub/a/b.iso". Without it, the client's own escaping is kept.
func newReqPath(u *url.URL, decoded bool) (reqPath, bool) {
	if hasDotSegment(u.Path) {
		return reqPath{}, false
	}
	if decoded {
		return reqPath{escaped: escapePath(u.Path), query: u.RawQuery}, true
	}
	return reqPath{escaped: u.EscapedPath(), query: u.RawQuery}, true
}

// escapePath escapes a decoded path for a URL, '%' included, as
// url.URL.EscapedPath does for a URL without a RawPath.
func escapePath(p string) string {
	u := url.URL{Path: p}
	return u.EscapedPath()
}

func (q *reqPath) appendLocation(dst []byte, base string, appendPath bool) []byte {
	return appendLocation(dst, base, appendPath, q.escaped, q.query)
}

// appendLocation appends to dst the Location for a mirror whose base URL is
// base: base, then (when appendPath is set) the request path and query.
//
// It is safe by construction: the result starts with base, which is an
// absolute URL from the configuration, and everything after it is escaped
// so that no byte of the request can end the header (CR, LF), start a new
// authority (a leading "//" collapses to "/", "\" is escaped), or add a
// fragment ("#" is escaped). escapedPath is the request's escaped path
// (url.URL.EscapedPath), already checked by newReqPath.
func appendLocation(dst []byte, base string, appendPath bool, escapedPath, rawQuery string) []byte {
	dst = append(dst, locationBase(base, appendPath)...)
	if !appendPath {
		return dst
	}
	p := strings.TrimLeft(escapedPath, "/")
	dst = append(dst, '/')
	dst = appendEscaped(dst, p, false)
	if rawQuery != "" {
		dst = appendQuery(dst, rawQuery)
	}
	return dst
}

// locationBase is the part of a Location that comes from the mirror's
// URL: the URL as written, or without its trailing slash when the request
// path follows.
func locationBase(base string, appendPath bool) string {
	if appendPath {
		return strings.TrimSuffix(base, "/")
	}
	return base
}

// appendQuery appends "?" and rawQuery without the control parameters,
// escaped; nothing when no parameter is left.
func appendQuery(dst []byte, rawQuery string) []byte {
	mark := len(dst)
	dst = append(dst, '?')
	first := true
	for q := rawQuery; q != ""; {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if pair == "" || isControlParam(pair) {
			continue
		}
		if !first {
			dst = append(dst, '&')
		}
		first = false
		dst = appendEscaped(dst, pair, true)
	}
	if first {
		return dst[:mark]
	}
	return dst
}

func isControlParam(pair string) bool {
	key, _, _ := strings.Cut(pair, "=")
	for _, p := range controlParams {
		if key == p {
			return true
		}
	}
	return false
}

// appendEscaped copies s, percent-encoding every byte that may not stand
// unescaped in a path (or, with query set, a query) and every '%' that does
// not start a valid escape. The runs of bytes that stand for themselves
// are copied whole.
func appendEscaped(dst []byte, s string, query bool) []byte {
	const hex = "0123456789ABCDEF"
	ok := &pathBytes
	if query {
		ok = &queryBytes
	}
	run := 0 // the start of the run not yet copied
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ok[c] || c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			continue
		}
		dst = append(dst, s[run:i]...)
		dst = append(dst, '%', hex[c>>4], hex[c&15])
		run = i + 1
	}
	return append(dst, s[run:]...)
}

// pathBytes and queryBytes say which bytes stand unescaped in a path and
// in a query (allowed).
var pathBytes, queryBytes = func() (path, query [256]bool) {
	for c := range 256 {
		path[c], query[c] = allowed(byte(c), false), allowed(byte(c), true)
	}
	return path, query
}()

// allowed reports whether c may stand unescaped: RFC 3986 unreserved
// characters, sub-delims, ':' and '@', '/' and, in a query, '?'.
func allowed(c byte, query bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '/':
		return true
	case '?':
		return query
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func hasDotSegment(path string) bool {
	// A dot segment follows a slash or starts the path.
	if !strings.Contains(path, "/.") && !strings.HasPrefix(path, ".") {
		return false
	}
	for path != "" {
		var seg string
		seg, path, _ = strings.Cut(path, "/")
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// htmlEscapedLen is len(appendHTMLEscaped(nil, s)), without building it.
func htmlEscapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		n += int(htmlExtra[s[i]])
	}
	return n
}

// htmlEntity is the escape of c in HTML text and attributes, or "" when c
// stands for itself: what html.EscapeString writes.
func htmlEntity(c byte) string {
	switch c {
	case '&':
		return "&amp;"
	case '<':
		return "&lt;"
	case '>':
		return "&gt;"
	case '"':
		return "&#34;"
	case '\'':
		return "&#39;"
	}
	return ""
}

// htmlExtra is how many bytes the escape of each byte adds (0: it stands
// for itself).
var htmlExtra = func() (t [256]uint8) {
	for c := range 256 {
		if e := htmlEntity(byte(c)); e != "" {
			t[c] = uint8(len(e) - 1)
		}
	}
	return t
}()

// appendHTMLEscaped appends s escaped for an HTML attribute or text. The
// runs of bytes that stand for themselves are copied whole.
func appendHTMLEscaped(dst []byte, s string) []byte {
	run := 0 // the start of the run not yet copied
	for i := 0; i < len(s); i++ {
		if htmlExtra[s[i]] != 0 {
			dst = append(dst, s[run:i]...)
			dst = append(dst, htmlEntity(s[i])...)
			run = i + 1
		}
	}
	return append(dst, s[run:]...)
}
