// Package deploy holds what operators install beside the binary: the
// systemd unit, the Prometheus alerting rules and the Grafana dashboard.
// Its test checks them against the real tools and the real metrics.
package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/dispatcher/dispatcher/internal/itest"
	"github.com/dispatcher/dispatcher/server"
)

var promql = parser.NewParser(parser.Options{})

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// metricNames returns the metric names expr selects.
func metricNames(t *testing.T, where, expr string) []string {
	t.Helper()
	node, err := promql.ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %q does not parse: %v", where, expr, err)
		return nil
	}
	var names []string
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

// exported returns the families a dispatcher exports when every feature
// is on (Redis, files), by name; histograms also by their _bucket, _sum and
// _count series.
func exported(t *testing.T) map[string]bool {
	r := itest.Redis(t, 0)
	dir := t.TempDir()
	itest.WriteTree(t, filepath.Join(dir, "origin"), map[string]string{"a.iso": "a"}, time.Now())
	cfg := filepath.Join(dir, "mirrors.json")
	itest.WriteFile(t, cfg, fmt.Sprintf(`{"redis": "redis://%s/0", "pools": [{"name": "pub", "routes": ["/pub/*file"],
	  "files": {"origin": "origin"}, "mirrors": [{"name": "a", "url": "http://a.example"}]}]}`, r.Addr))
	srv, err := server.New(server.Options{ConfigPath: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srv.Stop() })
	var ms itest.Metrics
	itest.WaitFor(t, 20*time.Second, "the first file scan", func() bool {
		ms = itest.Scrape(t, srv)
		return ms["dispatcher_files_missing"] != nil
	})
	names := map[string]bool{}
	for name, f := range ms {
		names[name] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[name+s] = true
			}
		}
	}
	return names
}

// TestAlertRules parses deploy/prometheus/alerts.yml with Prometheus' own
// rule parser (which parses every expression), and checks that every
// metric the rules name is one the dispatcher exports.
func TestAlertRules(t *testing.T) {
	groups, errs := rulefmt.ParseFile(filepath.Join("prometheus", "alerts.yml"), false, model.UTF8Validation, promql, nil)
	for _, err := range errs {
		t.Errorf("alerts.yml: %v", err)
	}
	if groups == nil {
		t.FailNow()
	}
	have := exported(t)
	alerts := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("alert %s lacks a severity or a summary", r.Alert)
			}
			for _, name := range metricNames(t, r.Alert, r.Expr) {
				if !have[name] {
					t.Errorf("alert %s uses %s, which the dispatcher does not export", r.Alert, name)
				}
			}
		}
	}
	for _, want := range []string{"DispatcherMirrorDown", "DispatcherPoolNoUsableMirror", "DispatcherRedisFallback",
		"DispatcherFeedbackPollFailing", "DispatcherMirrorSaturated"} {
		if !alerts[want] {
			t.Errorf("alerts.yml lacks %s", want)
		}
	}
}

// grafanaVars replaces the dashboard's variables with what Grafana would
// put there, so that the queries parse as PromQL.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$pool", ".+")

// TestGrafanaDashboard parses every query of deploy/grafana/dispatcher.json
// with the PromQL parser and checks the metrics against the exported ones.
func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("grafana", "dispatcher.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dispatcher.json: %v", err)
	}
	if dash.UID == "" || len(dash.Panels) < 8 {
		t.Fatalf("dispatcher.json: uid %q, %d panels", dash.UID, len(dash.Panels))
	}
	have := exported(t)
	labelValues := regexp.MustCompile(`^label_values\(([a-z_:]+),\s*[a-z_]+\)$`)
	for _, v := range dash.Templating.List {
		if v.Definition == "" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil || !have[m[1]] {
			t.Errorf("variable %s: %q is not label_values of an exported metric", v.Name, v.Definition)
		}
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, name := range metricNames(t, "panel "+strconv.Quote(p.Title), grafanaVars.Replace(q.Expr)) {
				if !have[name] {
					t.Errorf("panel %q uses %s, which the dispatcher does not export", p.Title, name)
				}
			}
		}
	}
}

// TestSystemdUnit checks deploy/systemd/dispatcher.service with systemd's
// own tools: `systemd-analyze verify` (with ExecStart pointed at a built
// binary), and `systemd-analyze security --offline` for the sandboxing,
// which must rate it OK (exposure at most 2.0 of 10).
func TestSystemdUnit(t *testing.T) {
	analyze := itest.Need(t, "systemd-analyze", "systemd")
	text, err := os.ReadFile(filepath.Join("systemd", "dispatcher.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ExecReload=/bin/kill -HUP $MAINPID", "DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the unit lacks %s", want)
		}
	}
	unit := filepath.Join(t.TempDir(), "dispatcher.service")
	itest.WriteFile(t, unit, strings.ReplaceAll(string(text), "/usr/local/bin/dispatcher", itest.Binary(t)))
	if out, err := exec.Command(analyze, "verify", unit).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command(analyze, "security", "--offline=yes", "--no-pager", unit).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 {
		t.Errorf("exposure level %.1f; want at most 2.0", level)
	}
}
