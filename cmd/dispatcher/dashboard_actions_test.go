package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestDashboardInBrowser drives the dashboard in headless Chromium over
// the DevTools protocol, with host names unresolvable (offline): it loads
// from the dispatcher alone, draws the charts from real traffic, refuses
// a wrong token where the drain was asked, and with the right token
// (typed, submitted with Enter) drains a mirror: the table and the next
// real redirects show it. It shows the downloads the traffic made. Screenshots go to DASHBOARD_SCREENSHOT_DIR.
func TestDashboardInBrowser(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, cfg, goodConfig("dash"))
	p := itest.Dispatcher(t, cfg, []string{"DISPATCHER_ADMIN_TOKEN=tok"}, "-quiet")
	base := "http://" + p.Addr
	client := itest.NoRedirectClient(5 * time.Second)
	ctx, stopTraffic := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // real traffic for the charts, until the test ends
		defer wg.Done()
		for ctx.Err() == nil {
			for _, path := range []string{"/", "/get/x.iso"} {
				if resp, err := client.Get(base + path); err == nil {
					resp.Body.Close()
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { stopTraffic(); wg.Wait() })

	b := itest.NewBrowser(t)
	wait := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(b.Ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			b.Screenshot(t, "dashboard-failed")
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	click := func(selector string) {
		t.Helper()
		// A click through the page's own handler; the table is redrawn
		// every 2 s, so the button is found and clicked in one step.
		if _, err := chromedp.Run(b.Ctx, chromedp.Evaluate[bool](`(() => { const e = document.querySelector(`+"`"+selector+"`"+`); if (!e || e.disabled) return false; e.click(); return true })()`)); err != nil {
			t.Fatalf("click %s: %v", selector, err)
		}
	}
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(base+"/status")); err != nil {
		t.Fatal(err)
	}
	// Charts: a line per mirror in each of the three charts, and a rate
	// above zero for the traffic the test sends.
	wait("the charts", `document.querySelectorAll('section[data-pool="home"] svg.chart path.series').length === 6 &&
		document.querySelectorAll('section[data-pool="files"] svg.chart path.series').length === 3 &&
		/f1 [1-9]/.test(document.querySelector('section[data-pool="files"] .legend').textContent)`)
	b.Screenshot(t, "dashboard-charts")
	// Downloads: today's bar, the top files and the top countries, from
	// /api/stats (the traffic's clients have no country: no geo database).
	today := time.Now().UTC().Format(time.DateOnly)
	wait("the downloads panel", `(() => {
		const d = document.querySelector('section[data-pool="files"] .downloads');
		if (!d) return false;
		const bar = d.querySelector('svg.days rect.day[data-day="`+today+`"]');
		const files = d.querySelector('table.top.files'), countries = d.querySelector('table.top.countries');
		return !!bar && +bar.dataset.downloads > 0 && !!files && files.textContent.includes("/get/x.iso") &&
			!!countries && countries.textContent.includes("unknown");
	})()`)
	b.Screenshot(t, "dashboard-downloads")
	label, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`document.querySelector('section[data-pool="home"] svg.chart').getAttribute("aria-label")`))
	if err != nil || !strings.Contains(label, "m1") || !strings.Contains(label, "last 15 minutes") {
		t.Errorf("chart label %q (%v)", label, err)
	}

	// A wrong token: the drain is refused, and the row says why.
	if err := chromedp.Do(b.Ctx, chromedp.SendKeys("#token", "wrong\n")); err != nil {
		t.Fatal(err)
	}
	wait("the buttons enabled", `!!document.querySelector('button[data-focus="home/m2/drain"]:not([disabled])')`)
	click(`button[data-focus="home/m2/drain"]`)
	wait("the refusal in m2's row", `/wrong token/.test(document.querySelector('tr[data-mirror="m2"] td.actions').textContent)`)
	b.Screenshot(t, "dashboard-wrong-token")

	// The right token, typed and submitted with Enter: m2 drains.
	if err := chromedp.Do(b.Ctx, chromedp.SendKeys("#token", "tok\n")); err != nil {
		t.Fatal(err)
	}
	wait("the token kept", `document.getElementById("admin-msg").textContent.includes("kept")`)
	click(`button[data-focus="home/m2/drain"]`)
	wait("m2 drained in the table", `!!document.querySelector('tr.drained[data-mirror="m2"] button[data-focus="home/m2/enable"]') &&
		!document.querySelector('tr[data-mirror="m2"] .err')`)
	b.Screenshot(t, "dashboard-drained")
	for range 10 {
		resp, err := client.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if m := resp.Header.Get("X-Mirror"); m != "m1" {
			t.Fatalf("after the drain from the dashboard a request went to %s", m)
		}
	}

	// Offline: everything came from the dispatcher.
	for _, u := range b.Requests() {
		if !strings.HasPrefix(u, base+"/") {
			t.Errorf("the dashboard requested %s", u)
		}
	}
	if resp, err := http.Get(base + "/api/history"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/api/history: %v %v", err, resp)
	}
}
