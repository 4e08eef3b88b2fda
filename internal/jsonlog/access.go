package jsonlog

import (
	"io"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// AccessLog writes the access log: one line per request, byte for byte
// what slog.JSONHandler writes for
//
//	Info("request", "method", m, "path", p, "status", s, "client_ip", ip,
//	     "mirror", name, "duration_us", µs)
//
// built straight into a pooled buffer: no slog.Record, no allocation. It
// is safe for concurrent use when w is (Writer is).
type AccessLog struct {
	w      io.Writer
	stamps stamps
}

// NewAccessLog returns an AccessLog writing to w.
func NewAccessLog(w io.Writer) *AccessLog { return &AccessLog{w: w} }

var accessBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Request writes the line of a request that ended at end (the line's
// time) and took took. mirror is "" when none was picked.
func (a *AccessLog) Request(end time.Time, took time.Duration, method, path string, status int, client netip.Addr, mirror string) {
	bp := accessBufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"time":"`...)
	b = a.stamps.appendStamp(b, end)
	b = append(b, `","level":"INFO","msg":"request","method":`...)
	b = appendJSONString(b, method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"client_ip":"`...)
	if client.IsValid() {
		b = client.AppendTo(b) // never needs escaping
	} else {
		b = append(b, "invalid IP"...)
	}
	b = append(b, `","mirror":`...)
	b = appendJSONString(b, mirror)
	// Microseconds as an integer: slog writes floats through
	// encoding/json, which costs more than the rest of the line.
	b = append(b, `,"duration_us":`...)
	b = strconv.AppendInt(b, took.Microseconds(), 10)
	b = append(b, "}\n"...)
	a.w.Write(b) //nolint:errcheck // a Writer never fails; nowhere else to report
	*bp = b
	accessBufs.Put(bp)
}
