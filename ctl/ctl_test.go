package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/dispatcher/dispatcher/api"
)

// fakeServer answers /api/status and /api/explain with fixed bodies of
// package api's types, and records the Authorization header of each.
func fakeServer(t *testing.T, auth map[string]string) *httptest.Server {
	mirror := "de"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth[r.URL.Path] = r.Header.Get("Authorization")
		switch r.URL.Path {
		case "/api/status":
			json.NewEncoder(w).Encode(api.Status{ConfigFile: "mirrors.json", ConfigSHA256: strings.Repeat("ab", 32),
				Pools: []api.PoolStatus{{Name: "php", Strategy: "geo", Mirrors: []api.MirrorStatus{
					{Name: "de", Enabled: true, Up: true, Weight: 2, EffectiveWeight: 2, Redirects: 10},
					{Name: "us", Enabled: false, Up: true, Weight: 1}}}}})
		case "/api/explain":
			json.NewEncoder(w).Encode(api.Explanation{Path: r.URL.Query().Get("path"), Pool: "php", Strategy: "geo",
				Client:  api.ExplainedClient{IP: r.URL.Query().Get("ip"), Source: "the ip parameter", Country: "DE", Continent: "EU"},
				Mirror:  &mirror,
				Mirrors: []api.ExplainedMirror{{Name: "de", Weight: 2, EffectiveWeight: 2, Share: 1, Reason: "gets 100.0% of this client's requests"}}})
		case "/api/stats":
			q := r.URL.Query()
			if q.Get("by") == "week" {
				w.WriteHeader(http.StatusBadRequest)
				json.NewEncoder(w).Encode(map[string]string{"error": `by must be day, mirror, country or file, got "week"`})
				return
			}
			json.NewEncoder(w).Encode(api.Stats{Pool: q.Get("pool"), By: q.Get("by"), From: q.Get("from"), To: "2026-12-03", Total: 1000, Other: 100,
				Rows: []api.StatsRow{{Key: "/pub/a.iso", Downloads: 600}, {Key: "/pub/b.iso", Downloads: 300, Error: 12}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func run(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	var out, errs bytes.Buffer
	code := Run(context.Background(), args, Options{Stdout: &out, Stderr: &errs, Getenv: func(k string) string { return env[k] }})
	return out.String(), errs.String(), code
}

// TestStatusAndExplain reads the server's JSON through package api: the
// status table names every mirror and its state, explain prints the
// mirror and the reasons and sends the token only with -ip (explaining
// another address needs it), and a server that is not there is one line
// and exit 1.
func TestStatusAndExplain(t *testing.T) {
	auth := map[string]string{}
	srv := fakeServer(t, auth)
	env := map[string]string{"DISPATCHER_ADMIN_TOKEN": "tok"}
	out, errs, code := run(t, env, "-addr", srv.URL, "status")
	if code != 0 || !strings.Contains(out, "php") || !strings.Contains(out, "de") || !strings.Contains(out, "drained") {
		t.Errorf("status: exit %d\n%s%s", code, out, errs)
	}
	if auth["/api/status"] != "" {
		t.Errorf("status sent a token: %q", auth["/api/status"])
	}
	out, errs, code = run(t, env, "-addr", srv.URL, "explain", "/get/x.tgz")
	if code != 0 || !strings.Contains(out, "mirror   de") || auth["/api/explain"] != "" {
		t.Errorf("explain: exit %d, token %q\n%s%s", code, auth["/api/explain"], out, errs)
	}
	out, errs, code = run(t, env, "-addr", srv.URL, "explain", "/get/x.tgz", "-ip", "198.51.100.4")
	if code != 0 || !strings.Contains(out, "198.51.100.4") || auth["/api/explain"] != "Bearer tok" {
		t.Errorf("explain -ip: exit %d, token %q\n%s%s", code, auth["/api/explain"], out, errs)
	}
	_, errs, code = run(t, env, "-addr", "http://127.0.0.1:1", "status")
	if code != 1 || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("unreachable server: exit %d, %q; want 1 and one line", code, errs)
	}
}

// TestNoWebFramework: ctl reads the API's JSON without the server or the
// web framework.
func TestNoWebFramework(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, heavy := range []string{"github.com/gin-gonic/gin", "github.com/dispatcher/dispatcher/handlers"} {
		if strings.Contains(string(out), heavy) {
			t.Errorf("ctl depends on %s", heavy)
		}
	}
}

// TestStats: ctl stats passes its flags as the query, prints the rows
// with their share, an estimate's error, other and the total, and a
// refused query is the server's message and exit 1.
func TestStats(t *testing.T) {
	auth := map[string]string{}
	srv := fakeServer(t, auth)
	out, errs, code := run(t, nil, "-addr", srv.URL, "stats", "-pool", "iso", "-by", "file", "-from", "2026-11-01", "-top", "2")
	for _, want := range []string{"pool iso, downloads by file, 2026-11-01 to 2026-12-03 (UTC)", "FILE",
		"600   60.0%  /pub/a.iso", "300   30.0%  /pub/b.iso (up to 12 more)", "100   10.0%  (other)", "1000  100.0%  (total)"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("ctl stats: exit %d, no %q in\n%s%s", code, want, out, errs)
		}
	}
	_, errs, code = run(t, nil, "-addr", srv.URL, "stats", "-by", "week")
	if code != 1 || !strings.Contains(errs, `got "week"`) {
		t.Errorf("ctl stats -by week: exit %d, %q; want 1 and the server's message", code, errs)
	}
	if _, _, code = run(t, nil, "-addr", srv.URL, "stats", "extra"); code != 2 {
		t.Errorf("ctl stats extra: exit %d; want 2", code)
	}
}
