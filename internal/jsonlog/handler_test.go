package jsonlog

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"testing"
	"time"
)

// TestJSONHandlerMatchesSlog writes the same records through Handler
// and slog.JSONHandler: the lines must be byte for byte the same.
func TestJSONHandlerMatchesSlog(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 123400000, time.FixedZone("X", 3600))
	strs := []string{"plain", `quote " and \ backslash`, "ctl \x00\x01\x1f \n\r\t", "<html> & co", "utf8 ü 日本",
		"bad \xff\xfe utf8", "line\u2028sep\u2029", ""}
	for _, s := range strs {
		for _, attrs := range [][]slog.Attr{
			{slog.String("path", s), slog.Int("status", 302), slog.Int64("duration_us", -5)},
			{slog.Uint64("n", 18446744073709551615), slog.Bool("ok", true), slog.Duration("d", 1500*time.Millisecond), slog.Time("at", at)},
			{slog.String(s, "key with odd bytes")},
			{slog.Any("any", []int{1, 2}), slog.Float64("f", 0.25)}, // handed to the stock handler
			{slog.Group("g", slog.String("a", "b"))},
		} {
			var fast, std bytes.Buffer
			rec := slog.NewRecord(at, slog.LevelInfo, "msg "+s, 0)
			rec.AddAttrs(attrs...)
			if err := NewHandler(&fast, nil).Handle(context.Background(), rec.Clone()); err != nil {
				t.Fatal(err)
			}
			if err := slog.NewJSONHandler(&std, nil).Handle(context.Background(), rec.Clone()); err != nil {
				t.Fatal(err)
			}
			if fast.String() != std.String() {
				t.Errorf("records differ:\nfast: %s\nstd:  %s", fast.String(), std.String())
			}
		}
	}
	var buf bytes.Buffer
	h := NewHandler(&buf, slog.LevelWarn)
	if h.Enabled(context.Background(), slog.LevelInfo) || !h.Enabled(context.Background(), slog.LevelError) {
		t.Errorf("level not honoured")
	}
	slog.New(h).With("component", "x").Warn("derived", "k", 1)
	if !bytes.Contains(buf.Bytes(), []byte(`"component":"x"`)) {
		t.Errorf("WithAttrs lost: %s", buf.String())
	}
}

// TestAccessLogMatchesSlog: the access-log line is the one slog writes for
// the same record, for odd paths and addresses too.
func TestAccessLogMatchesSlog(t *testing.T) {
	for _, tt := range []struct {
		method, path, mirror string
		status               int
		ip                   netip.Addr
	}{
		{"GET", "/get/x.iso", "de", 302, netip.MustParseAddr("192.0.2.1")},
		{"HEAD", "/odd \"quoted\" \\ \x01 ü \u2028/\xff", "", 503, netip.MustParseAddr("2001:db8::1")},
		{"GET", "/", "m", 404, netip.MustParseAddr("::ffff:192.0.2.7")},
		{"GET", "/", "", 400, netip.Addr{}},
	} {
		var fast bytes.Buffer
		NewAccessLog(&fast).Request(time.Now(), 1500*time.Microsecond, tt.method, tt.path, tt.status, tt.ip, tt.mirror)
		var line map[string]any
		if err := json.Unmarshal(fast.Bytes(), &line); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, fast.String())
		}
		at, err := time.Parse(time.RFC3339Nano, line["time"].(string))
		if err != nil {
			t.Fatal(err)
		}
		rec := slog.NewRecord(at, slog.LevelInfo, "request", 0)
		rec.AddAttrs(slog.String("method", tt.method), slog.String("path", tt.path), slog.Int("status", tt.status),
			slog.String("client_ip", tt.ip.String()), slog.String("mirror", tt.mirror),
			slog.Int64("duration_us", int64(line["duration_us"].(float64))))
		var std bytes.Buffer
		if err := slog.NewJSONHandler(&std, nil).Handle(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		if fast.String() != std.String() {
			t.Errorf("lines differ:\nfast: %s\nstd:  %s", fast.String(), std.String())
		}
		if d := line["duration_us"].(float64); d != 1500 {
			t.Errorf("duration_us = %v; want 1500", d)
		}
	}
}
