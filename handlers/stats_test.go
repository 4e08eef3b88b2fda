package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/api"
	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestDownloadsCounted: what counts as a download, and under which key:
// a GET 302 to a mirror from byte 0; not a HEAD, a resumed or suffix
// range, a fallback, a 404 or a mirror list; an ad slot that does not
// append the path counts under its route.
func TestDownloadsCounted(t *testing.T) {
	srv, _ := newServer(t, testConfig, "")
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srv.Stop() })
	for _, r := range []struct {
		method, target, rng string
	}{
		{"GET", "/get/a.iso", ""}, {"GET", "/get/a.iso", "bytes=0-"}, {"GET", "/get/b.iso", ""},
		{"HEAD", "/get/a.iso", ""}, {"GET", "/get/a.iso", "bytes=1-"}, {"GET", "/get/a.iso", "bytes=-10"},
		{"GET", "/get/a.iso?mirrorlist", ""}, {"GET", "/dead/x", ""}, {"GET", "/nothing", ""},
		{"GET", "/ad/top", ""}, {"GET", "/ad/side", ""},
	} {
		hdr := map[string]string{}
		if r.rng != "" {
			hdr["Range"] = r.rng
		}
		do(srv, r.method, r.target, "192.0.2.1:1", hdr)
	}
	stats := func(query string) (api.Stats, int) {
		w := do(srv, "GET", "/api/stats?"+query, "", nil)
		var st api.Stats
		if w.Code == http.StatusOK {
			if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
				t.Fatal(err)
			}
		}
		return st, w.Code
	}
	itest.WaitFor(t, 10*time.Second, "the downloads to be written", func() bool {
		php, _ := stats("pool=php&by=file")
		ads, _ := stats("pool=ads&by=file")
		return php.Total == 3 && ads.Total == 2
	})
	php, _ := stats("pool=php&by=file")
	if len(php.Rows) != 2 || php.Rows[0] != (api.StatsRow{Key: "/get/a.iso", Downloads: 2}) || php.Rows[1] != (api.StatsRow{Key: "/get/b.iso", Downloads: 1}) {
		t.Errorf("php by file: %+v", php.Rows)
	}
	ads, _ := stats("pool=ads&by=file")
	if len(ads.Rows) != 1 || ads.Rows[0] != (api.StatsRow{Key: "/ad/:slot", Downloads: 2}) {
		t.Errorf("ads by file: %+v; want the route /ad/:slot twice", ads.Rows)
	}
	// No geo database: every client is in the unknown country.
	if c, _ := stats("pool=php&by=country"); len(c.Rows) != 1 || c.Rows[0].Key != "unknown" {
		t.Errorf("php by country: %+v", c.Rows)
	}
	if dead, _ := stats("pool=dead&by=day"); dead.Total != 0 {
		t.Errorf("the fallback counted %d downloads", dead.Total)
	}
}

// TestStatsOff: with "stats": {"enabled": false} nothing is counted and
// /api/stats says so with a 404.
func TestStatsOff(t *testing.T) {
	srv, _ := newServer(t, strings.Replace(testConfig, `"pools":`, `"stats": {"enabled": false}, "pools":`, 1), "")
	do(srv, "GET", "/get/a.iso", "192.0.2.1:1", nil)
	w := do(srv, "GET", "/api/stats?pool=php", "", nil)
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "statistics are off") {
		t.Fatalf("/api/stats with stats off: %d %s", w.Code, w.Body)
	}
}
