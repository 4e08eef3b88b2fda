package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
	"github.com/dispatcher/dispatcher/server"
)

func scrape(t *testing.T, srv *server.Server) itest.Metrics {
	t.Helper()
	return itest.Scrape(t, srv)
}

// TestMetricsPage parses /metrics with Prometheus' parser after a known
// amount of traffic, reloads and probes, and checks exact counts: the
// redirects and the request-duration histogram count the same requests,
// reloads count by result, the probes of a live and a dead mirror are
// timed and the dead one's failures counted, and the Go and process
// collectors are there.
func TestMetricsPage(t *testing.T) {
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(live.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close() // nothing listens there any more: probes are refused
	cfg := `{"health": {"schedule": "@every 1s", "timeout": "1s", "window": 3, "threshold": 2},
	  "pools": [{"name": "a", "routes": ["/a/*file"], "mirrors": [{"name": "live", "url": "%s"}, {"name": "dead", "url": "%s"}]},
	            {"name": "b", "routes": ["/b/*file"], "strategy": "roundrobin", "mirrors": [{"name": "one", "url": "%s"}]}]}`
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, fmt.Sprintf(cfg, live.URL, dead, live.URL))
	srv := startFile(t, path)
	for range 7 {
		redirect(srv, "/a/x.iso")
	}
	for range 5 {
		redirect(srv, "/b/y.iso")
	}
	if err := srv.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	itest.WriteFile(t, path, `{"pools": [}`)
	if err := srv.Reload(context.Background()); err == nil {
		t.Fatal("a broken file reloaded")
	}
	// Every probe is timed, and only the dead mirror's fail (the live one
	// answers 200): wait for two of each.
	itest.WaitFor(t, 20*time.Second, "two passed and two failed probes", func() bool {
		ms := scrape(t, srv)
		probes, _ := ms.Get("dispatcher_probe_duration_seconds")
		failed, _ := ms.Get("dispatcher_probe_failures_total")
		return probes-failed >= 2 && failed >= 2
	})
	ms := scrape(t, srv)
	for _, want := range []struct {
		name   string
		labels []string
		value  float64
	}{
		{"dispatcher_request_duration_seconds", []string{"pool", "a"}, 7},
		{"dispatcher_request_duration_seconds", []string{"pool", "b"}, 5},
		{"dispatcher_redirects_total", []string{"pool", "b", "mirror", "one", "strategy", "roundrobin"}, 5},
		{"dispatcher_config_reloads_total", []string{"result", "success"}, 1},
		{"dispatcher_config_reloads_total", []string{"result", "failure"}, 1},
		{"dispatcher_pool_usable_mirrors", []string{"pool", "b"}, 1},
	} {
		if v, ok := ms.Get(want.name, want.labels...); !ok || v != want.value {
			t.Errorf("%s%v = %v (found %v); want %v", want.name, want.labels, v, ok, want.value)
		}
	}
	live7, _ := ms.Get("dispatcher_redirects_total", "pool", "a", "mirror", "live", "strategy", "random")
	dead7, _ := ms.Get("dispatcher_redirects_total", "pool", "a", "mirror", "dead", "strategy", "random")
	if live7+dead7 != 7 {
		t.Errorf("pool a redirects: %v + %v; want 7", live7, dead7)
	}
	if h := ms["dispatcher_request_duration_seconds"].GetMetric()[0].GetHistogram(); len(h.GetBucket()) < 10 || h.GetBucket()[0].GetUpperBound() > 50e-6 {
		t.Errorf("request duration buckets %v; want tens of microseconds up", h.GetBucket())
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total",
		"process_resident_memory_bytes", "dispatcher_build_info", "dispatcher_snmp_poll_duration_seconds"} {
		if ms[name] == nil {
			t.Errorf("/metrics lacks %s (has %s)", name, ms)
		}
	}
}

// TestMetricsNegotiates: /metrics is client_golang's handler, so a
// scraper that asks for OpenMetrics or gzip gets them, and one that asks
// for nothing gets the text format.
func TestMetricsNegotiates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, `{"pools": [{"name": "a", "routes": ["/a/*file"], "mirrors": [{"name": "m", "url": "http://m.example"}]}]}`)
	srv := startFile(t, path)
	for _, tt := range []struct{ accept, encoding, wantType, wantEncoding string }{
		{"", "", "text/plain", ""},
		{"application/openmetrics-text;version=1.0.0", "", "application/openmetrics-text", ""},
		{"", "gzip", "text/plain", "gzip"},
	} {
		req := httptest.NewRequest("GET", "/metrics", nil)
		if tt.accept != "" {
			req.Header.Set("Accept", tt.accept)
		}
		if tt.encoding != "" {
			req.Header.Set("Accept-Encoding", tt.encoding)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		ct, ce := w.Header().Get("Content-Type"), w.Header().Get("Content-Encoding")
		if w.Code != 200 || !strings.HasPrefix(ct, tt.wantType) || ce != tt.wantEncoding {
			t.Errorf("Accept %q, Accept-Encoding %q: %d, Content-Type %q, Content-Encoding %q", tt.accept, tt.encoding, w.Code, ct, ce)
		}
		if tt.wantType == "application/openmetrics-text" && !strings.HasSuffix(w.Body.String(), "# EOF\n") {
			t.Errorf("OpenMetrics page does not end with # EOF")
		}
	}
}
