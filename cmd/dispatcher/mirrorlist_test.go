package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestMirrorlistInBrowser loads a ?mirrorlist page in headless Chromium:
// the mirrors the client can get are links, in order, and the ones left
// out follow with the reason /api/explain gives.
func TestMirrorlistInBrowser(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, cfg, `{"pools": [{"name": "pub", "routes": ["/pub/*file"], "mirrors": [
	  {"name": "near", "url": "http://near.example"},
	  {"name": "retired", "url": "http://retired.example", "enabled": false},
	  {"name": "v6only", "url": "http://[2001:db8::1]"}]}]}`)
	p := itest.Dispatcher(t, cfg, nil, "-quiet")
	b := itest.NewBrowser(t)
	if err := chromedp.Do(b.Ctx, chromedp.Navigate("http://"+p.Addr+"/pub/a.iso?mirrorlist")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(b.Ctx, chromedp.Poll[bool](`document.querySelectorAll("ul.left-out li").length === 2`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		b.Screenshot(t, "mirrorlist-failed")
		t.Fatal(err)
	}
	links, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("ol li a")].map(a => a.textContent + " " + a.href)`))
	if err != nil {
		t.Fatal(err)
	}
	left, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("ul.left-out li")].map(li => li.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	b.Screenshot(t, "mirrorlist")
	if len(links) != 1 || links[0] != "near http://near.example/pub/a.iso" {
		t.Errorf("ranked links %q", links)
	}
	got := strings.Join(left, "\n")
	for _, want := range []string{"retired: disabled in the configuration", "v6only: family: "} {
		if !strings.Contains(got, want) {
			t.Errorf("left out:\n%s\nwant a line %q", got, want)
		}
	}
}
