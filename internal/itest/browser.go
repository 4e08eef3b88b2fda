package itest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Browser is headless Chromium driven over the DevTools protocol
// (chromedp), for a test to click through a page. Every URL the page
// requests is recorded.
type Browser struct {
	Ctx      context.Context
	mu       sync.Mutex
	requests []string
}

// NewBrowser starts headless Chromium until the test ends. Host names do
// not resolve in it (but localhost): a page that reaches for the network
// beyond the loopback gets nothing, as on a machine offline.
func NewBrowser(t testing.TB) *Browser {
	t.Helper()
	bin := Need(t, "chromium", "chromium")
	opts := append([]chromedp.ExecAllocatorOption{}, chromedp.DefaultExecAllocatorOptions[:]...)
	opts = append(opts, chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"),
		chromedp.Flag("disable-quic", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &Browser{Ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request != nil {
			b.mu.Lock()
			b.requests = append(b.requests, e.Request.URL)
			b.mu.Unlock()
		}
	})
	if err == nil {
		_, err = chromedp.Call(ctx, network.Enable, network.EnableParams{})
	}
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return b
}

// Requests returns the URLs the pages requested so far.
func (b *Browser) Requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requests...)
}

// Screenshot saves the whole page as name (a .png) in the directory
// DASHBOARD_SCREENSHOT_DIR names, else in the test's temporary directory,
// and logs where.
func (b *Browser) Screenshot(t testing.TB, name string) {
	t.Helper()
	dir := os.Getenv("DASHBOARD_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name)
	if !strings.HasSuffix(path, ".png") {
		path += ".png"
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
