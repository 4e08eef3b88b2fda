package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestJSONHandlerMatchesSlog writes the same records through jsonHandler
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
			if err := newJSONHandler(&fast, nil).Handle(context.Background(), rec.Clone()); err != nil {
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
	h := newJSONHandler(&buf, slog.LevelWarn)
	if h.Enabled(context.Background(), slog.LevelInfo) || !h.Enabled(context.Background(), slog.LevelError) {
		t.Errorf("level not honoured")
	}
	slog.New(h).With("component", "x").Warn("derived", "k", 1)
	if !bytes.Contains(buf.Bytes(), []byte(`"component":"x"`)) {
		t.Errorf("WithAttrs lost: %s", buf.String())
	}
}
