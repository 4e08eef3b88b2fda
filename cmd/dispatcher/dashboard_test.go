package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestDashboard loads /status in headless Chromium: the page's script must
// fetch /api/status and draw every pool and mirror with live figures.
func TestDashboard(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, cfg, goodConfig("dash"))
	p := itest.Dispatcher(t, cfg, []string{"DISPATCHER_ADMIN_TOKEN=tok"}, "-quiet")
	c := itest.NoRedirectClient(5 * time.Second)
	for range 5 {
		resp, err := c.Get("http://" + p.Addr + "/get/x.iso")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	req, _ := http.NewRequest("POST", "http://"+p.Addr+"/api/pools/home/mirrors/m2/drain", nil)
	req.Header.Set("Authorization", "Bearer tok")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("drain: %v %v", err, resp)
	}

	png := ""
	if dir := os.Getenv("DASHBOARD_SCREENSHOT_DIR"); dir != "" {
		png = filepath.Join(dir, "dashboard.png")
	}
	dom := itest.Chromium(t, "http://"+p.Addr+"/status", 3*time.Second, png)
	for _, want := range []string{
		`data-pool="home"`, `data-pool="files"`, `data-mirror="m1"`, `data-mirror="f1"`,
		"roundrobin", "redis: not configured",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("dashboard DOM lacks %q", want)
		}
	}
	// The redirects the test made are on the page, and the drained mirror
	// shows as drained.
	if !regexp.MustCompile(`data-mirror="f1".*?class="num redirects">5<`).MatchString(dom) {
		t.Errorf("dashboard does not show 5 redirects for f1")
	}
	if !regexp.MustCompile(`class="drained" data-mirror="m2"`).MatchString(dom) {
		t.Errorf("dashboard does not show m2 drained")
	}
	if strings.Contains(dom, "Loading /api/status") || strings.Contains(dom, "error:") {
		t.Errorf("dashboard did not render:\n%s", dom)
	}
}

// TestDashboardFiles: for a file-aware pool the dashboard shows the
// origin's file count and, per mirror, how much it holds and what it lacks.
func TestDashboardFiles(t *testing.T) {
	dir := t.TempDir()
	origin, behind := filepath.Join(dir, "origin"), filepath.Join(dir, "behind")
	for _, d := range []string{filepath.Join(origin, "pub"), behind} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	itest.WriteFile(t, filepath.Join(origin, "pub", "a.iso"), "a")
	itest.WriteFile(t, filepath.Join(origin, "pub", "b.iso"), "b")
	rsync := itest.RsyncDaemon(t, map[string]string{"pub": behind})
	cfg := filepath.Join(dir, "mirrors.json")
	itest.WriteFile(t, cfg, fmt.Sprintf(`{"pools": [{"name": "pub", "routes": ["/pub/*file"], "files": {"origin": "origin"},
	  "mirrors": [{"name": "plain", "url": "http://plain.example"}, {"name": "behind", "url": "http://behind.example", "rsync": "rsync://%s/pub"}]}]}`, rsync))
	p := itest.Dispatcher(t, cfg, nil, "-quiet")
	itest.WaitFor(t, 20*time.Second, "the first scan", func() bool {
		return strings.Contains(fmt.Sprint(status(t, p)["pools"]), "origin_files:2")
	})
	dom := itest.Chromium(t, "http://"+p.Addr+"/status", 3*time.Second, "")
	for _, want := range []string{"files held", "2 origin files", "0 / 2", "2 missing, 0 outdated", "all (not listed)"} {
		if !strings.Contains(dom, want) {
			t.Errorf("dashboard DOM lacks %q", want)
		}
	}
}
