package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestHTTPScannedMirror: a mirror without rsync, listed over HTTP from
// real nginx's autoindex, is judged as an rsync one: no client is sent
// there for the file it lacks or the one it holds truncated, and the
// status shows it listed with the same counts. When it catches up, the
// next scan sees it.
func TestHTTPScannedMirror(t *testing.T) {
	origin, full, lag, _ := threeMirrors(t) // lag: a.iso, b.iso truncated, no new.iso
	for _, format := range []string{"", "autoindex_format json;"} {
		t.Run("nginx "+map[string]string{"": "html", "autoindex_format json;": "json"}[format], func(t *testing.T) {
			web := itest.NginxAutoindex(t, lag.dir, format)
			path := filepath.Join(t.TempDir(), "mirrors.json")
			itest.WriteFile(t, path, fmt.Sprintf(`{"pools": [{"name": "pub", "routes": ["/pub/*file"], "strategy": "random",
  "files": {"origin": %q, "schedule": "@every 1s", "unknown": "404", "http_rate": 200},
  "mirrors": [{"name": "full", "url": %q, "rsync": %q}, {"name": "lag", "url": %q, "scan": "http"}]}]}`,
				origin, full.url, full.rsync, web))
			srv := startFile(t, path)
			waitListed(t, srv, "full", "lag")
			st := mirrorStatus(t, srv, "pub", "lag").Files
			if !st.Listed || st.Held != 1 || st.Outdated != 1 || st.Missing != 1 || st.ScanError != "" {
				t.Fatalf("lag over HTTP: %+v; want listed, held 1, outdated 1, missing 1", st)
			}
			for range 100 {
				if m, code := redirect(srv, "/pub/b.iso"); code != 302 || m != "full" {
					t.Fatalf("GET /pub/b.iso = %d to %q; only full holds it", code, m)
				}
				if _, code := redirect(srv, "/pub/new.iso"); code != 503 {
					t.Fatalf("GET /pub/new.iso = %d; no mirror holds it (and no fallback): want 503", code)
				}
			}
			got := map[string]int{}
			for range 200 {
				m, _ := redirect(srv, "/pub/a.iso")
				got[m]++
			}
			if got["lag"] == 0 || got["full"] == 0 {
				t.Errorf("a.iso, held by both, went to %v", got)
			}
			// lag catches up: the next scans see it hold everything.
			day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.Local)
			itest.WriteTree(t, lag.dir, map[string]string{"pub/b.iso": "bbbbbbbb", "pub/new.iso": "fresh"}, day)
			itest.WaitFor(t, 20*time.Second, "lag to be seen holding every file", func() bool {
				st := mirrorStatus(t, srv, "pub", "lag").Files
				return st.Held == 3
			})
			itest.WriteTree(t, lag.dir, map[string]string{"pub/b.iso": "bbb"}, day) // for the next format
			if err := os.Remove(filepath.Join(lag.dir, "pub", "new.iso")); err != nil {
				t.Fatal(err)
			}
		})
	}
}
