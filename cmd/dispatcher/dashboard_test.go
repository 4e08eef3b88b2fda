package main

import (
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
