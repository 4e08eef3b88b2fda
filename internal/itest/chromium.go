package itest

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Chromium renders url in headless Chromium after letting its scripts run
// for budget, and returns the DOM as HTML. With png set it also writes a
// screenshot there.
func Chromium(t testing.TB, url string, budget time.Duration, png string) string {
	t.Helper()
	bin := Need(t, "chromium", "chromium")
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), fmt.Sprintf("--virtual-time-budget=%d", budget.Milliseconds())}
	if png != "" {
		shot := exec.Command(bin, append(args, "--window-size=1400,900", "--screenshot="+png, url)...)
		if out, err := shot.CombinedOutput(); err != nil {
			t.Fatalf("chromium screenshot: %v\n%s", err, out)
		}
	}
	cmd := exec.Command(bin, append(args, "--dump-dom", url)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return string(out)
}
