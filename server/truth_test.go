package server_test

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// twoListedConfig is a file-aware pool of two mirrors listed by rsync:
// strategy, origin, unknown, then each mirror's url and rsync.
const twoListedConfig = `{"pools": [{"name": "pub", "routes": ["/pub/*file"], "strategy": "%s",
  "fallback": "https://fallback.example",
  "files": {"origin": "%s", "schedule": "@every 1s", "unknown": "%s", "timeout": "20s"},
  "mirrors": [
    {"name": "full", "url": "%s", "rsync": "%s", "country": "DE"},
    {"name": "lag", "url": "%s", "rsync": "%s", "country": "DE"}]}]}`

// TestFileAsAsked: the file a file-aware pool looks up is the file the
// mirror is asked for, "%2F" included, and a file no mirror holds goes to
// the fallback with its path, so the fallback can be the origin's server.
func TestFileAsAsked(t *testing.T) {
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	origin := t.TempDir()
	itest.WriteTree(t, origin, map[string]string{"pub/a/b.iso": "bbbb", "pub/a%2Fb.iso": "odd name", "pub/only-origin.iso": "o"}, day)
	full, lag := newFileMirror(t, true), newFileMirror(t, true)
	itest.WriteTree(t, full.dir, map[string]string{"pub/a/b.iso": "bbbb"}, day)
	itest.WriteTree(t, lag.dir, map[string]string{"pub/a%2Fb.iso": "odd name"}, day)
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, fmt.Sprintf(twoListedConfig, "random", origin, "404", full.url, full.rsync, lag.url, lag.rsync))
	srv := startFile(t, path)
	itest.WaitFor(t, 20*time.Second, "every mirror listed", func() bool {
		for _, m := range []string{"full", "lag"} {
			if st := mirrorStatus(t, srv, "pub", m).Files; st == nil || st.LastScan == nil {
				return false
			}
		}
		return true
	})
	tests := []struct{ target, mirror, location string }{
		{"/pub/a%2Fb.iso", "full", full.url + "/pub/a/b.iso"},
		{"/pub/a/b.iso", "full", full.url + "/pub/a/b.iso"},
		{"/pub/a%252Fb.iso", "lag", lag.url + "/pub/a%252Fb.iso"},
		{"/pub/only-origin.iso?v=2&mirror=full", "fallback", "https://fallback.example/pub/only-origin.iso?v=2"},
	}
	for _, tt := range tests {
		for range 20 {
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, httptest.NewRequest("GET", tt.target, nil))
			if w.Code != 302 || w.Header().Get("X-Mirror") != tt.mirror || w.Header().Get("Location") != tt.location {
				t.Fatalf("GET %s = %d to %s at %q; want 302 to %s at %q", tt.target, w.Code,
					w.Header().Get("X-Mirror"), w.Header().Get("Location"), tt.mirror, tt.location)
			}
		}
	}
}
