package feedback

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/config"
	"github.com/dispatcher/dispatcher/internal/itest"
	"github.com/dispatcher/dispatcher/store"
)

func parse(t *testing.T, format string, args ...any) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.json", []byte(fmt.Sprintf(format, args...)), config.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func key(pool, mirror string) store.MirrorKey { return store.MirrorKey{Pool: pool, Mirror: mirror} }

// monitorConfig: two mirrors on one simulated agent (communities m1 and
// m2), probed at their health URLs, a third on a silent agent, a fourth
// naming an interface the agent lacks.
const monitorConfig = `{
  "health": {"schedule": "@every 1s", "timeout": "500ms", "window": 2, "threshold": 1, "ramp_up": "0s"},
  "feedback": {"schedule": "@every 1s", "timeout": "300ms", "retries": 0},
  "pools": [{"name": "p", "routes": ["/p/*file"], "mirrors": [
    {"name": "light", "url": "http://light.example", "health_url": "%[1]s/ok",
     "snmp": {"target": "%[2]s", "community": "m1", "interface": "eth0"}},
    {"name": "heavy", "url": "http://heavy.example", "health_url": "%[1]s/ok",
     "snmp": {"target": "%[2]s", "community": "m2", "if_index": 3}},
    {"name": "silent", "url": "http://silent.example", "health_url": "%[1]s/down",
     "snmp": {"target": "%[3]s", "community": "m1", "interface": "eth0"}},
    {"name": "noif", "url": "http://noif.example", "health_url": "%[1]s/ok",
     "snmp": {"target": "%[2]s", "community": "m1", "interface": "eth9"}}]}]}`

// TestMonitor runs a monitor against a real SNMP agent and HTTP mirror:
// rates and headroom from the agent, up and down from the probes, clear
// errors for a silent agent and an unknown interface; a reconfiguration
// keeps the history of the mirrors that stay and drops the others.
func TestMonitor(t *testing.T) {
	agent := itest.SNMPSim(t, 0, map[string]string{
		"m1": itest.SNMPRec(itest.IfRec(3, "eth0", 100e6, 10e6, 1000)),
		"m2": itest.SNMPRec(itest.IfRec(3, "eth0", 600e6, 20e6, 1000)),
	})
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(mirror.Close)
	silent := itest.SilentUDP(t)
	var changes atomic.Int64
	m := New(Options{OnChange: func() { changes.Add(1) }})
	cfg := parse(t, monitorConfig, mirror.URL, agent.Addr, silent)
	if err := m.Configure(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.Start(ctx)
	defer m.Stop()

	state := func(name string) MirrorState {
		s, ok := m.State(key("p", name))
		if !ok {
			t.Fatalf("no state for %s", name)
		}
		return s
	}
	near := func(v, want float64) bool { return v > want*0.9 && v < want*1.1 }
	itest.WaitFor(t, 20*time.Second, "rates from the agent", func() bool {
		return near(state("light").BandwidthBps, 100e6) && near(state("heavy").BandwidthBps, 600e6)
	})
	light, heavy := state("light"), state("heavy")
	if light.CapacityBps != 1e9 || light.Headroom <= heavy.Headroom || light.PollError != "" {
		t.Errorf("light %+v, heavy %+v: want 1 Gbit/s capacity and more headroom for the lighter", light, heavy)
	}
	itest.WaitFor(t, 10*time.Second, "silent down, its poll timed out, noif's error", func() bool {
		return !state("silent").Up && state("silent").PollError != "" && state("noif").PollError != ""
	})
	if e := state("silent").PollError; !strings.Contains(e, "no answer") {
		t.Errorf("silent agent: poll_error %q", e)
	}
	if e := state("noif").PollError; !strings.Contains(e, `"eth9"`) || !strings.Contains(e, "eth0") {
		t.Errorf("unknown interface: poll_error %q; want it to name eth9 and list eth0", e)
	}
	if e := state("silent").ProbeError; !strings.Contains(e, "503") {
		t.Errorf("probe_error %q; want the status", e)
	}
	if changes.Load() == 0 {
		t.Errorf("no change reported while states changed")
	}

	// Reconfigure: heavy stays (same URL and SNMP), light leaves.
	next := parse(t, `{"health": {"schedule": "@every 1s", "timeout": "500ms"}, "feedback": {"schedule": "@every 1s"},
	  "pools": [{"name": "p", "routes": ["/p/*file"], "mirrors": [
	    {"name": "heavy", "url": "http://heavy.example", "health_url": "%[1]s/ok",
	     "snmp": {"target": "%[2]s", "community": "m2", "if_index": 3}}]}]}`, mirror.URL, agent.Addr)
	if err := m.Configure(next); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.State(key("p", "light")); ok {
		t.Errorf("a removed mirror still has a state")
	}
	if s := state("heavy"); !near(s.BandwidthBps, 600e6) {
		t.Errorf("heavy lost its history on reload: %+v", s)
	}
	bad := *next
	bad.Health = &config.Health{Schedule: "every now and then"}
	if err := m.Configure(&bad); err == nil {
		t.Errorf("a bad schedule was accepted")
	}
}

// TestLease runs two monitors on one redis-server: one holds the lease and
// polls, the other adopts what it publishes; when the first stops, the
// second takes over once the lease expires.
func TestLease(t *testing.T) {
	r := itest.Redis(t, 0)
	agent := itest.SNMPSim(t, 0, map[string]string{"m1": itest.SNMPRec(itest.IfRec(3, "eth0", 300e6, 10e6, 1000))})
	mirror := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(mirror.Close)
	cfg := parse(t, `{"health": {"schedule": "@every 1s", "timeout": "500ms"}, "feedback": {"schedule": "@every 1s", "timeout": "300ms"},
	  "pools": [{"name": "p", "routes": ["/p/*file"], "mirrors": [
	    {"name": "m", "url": "%s", "snmp": {"target": "%s", "community": "m1", "interface": "eth0"}}]}]}`, mirror.URL, agent.Addr)
	open := func() *store.Store {
		s, err := store.Open(store.Options{URL: "redis://" + r.Addr + "/0", Budget: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	leader := func(m *Monitor) bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.decided && m.leader
	}
	follower := func(m *Monitor) bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.decided && !m.leader
	}
	a, b := New(Options{Store: open()}), New(Options{Store: open()})
	for _, m := range []*Monitor{a, b} {
		if err := m.Configure(cfg); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a.Start(ctx)
	itest.WaitFor(t, 10*time.Second, "a to take the lease", func() bool { return leader(a) })
	b.Start(ctx)
	defer b.Stop()
	itest.WaitFor(t, 10*time.Second, "b to follow", func() bool { return follower(b) })
	itest.WaitFor(t, 20*time.Second, "b to show a's measurement", func() bool {
		s, _ := b.State(key("p", "m"))
		return s.BandwidthBps > 270e6 && s.BandwidthBps < 330e6 && !s.LastProbe.IsZero()
	})
	b.mu.Lock()
	polled := b.mirrors[key("p", "m")].poll.prev != nil
	b.mu.Unlock()
	if polled {
		t.Errorf("the follower polled the agent itself")
	}
	a.Stop()
	itest.WaitFor(t, 20*time.Second, "b to take over", func() bool { return leader(b) })
}

// TestHTTPProbe: answers below 400 pass, others fail with the status; a
// redirect is not followed; a mirror that does not answer fails in time.
func TestHTTPProbe(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
		case "/moved":
			http.Redirect(w, r, "/gone", http.StatusFound)
		case "/gone":
			w.WriteHeader(http.StatusNotFound)
		case "/hang":
			<-hang
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(func() { close(hang); srv.Close() })
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, method := range []string{"GET", "HEAD"} {
		probe := HTTPProbe(client, method)
		tests := []struct {
			path, wantErr string
		}{{"/ok", ""}, {"/moved", ""}, {"/gone", "404"}, {"/broken", "500"}, {"/hang", "no answer within"}}
		for _, tt := range tests {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			err := probe(ctx, srv.URL+tt.path)
			cancel()
			if (tt.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s %s: %v; want %q", method, tt.path, err, tt.wantErr)
			}
		}
	}
	if u := probeURL("https://m.example:8443/pub/files?x=1", "/health"); u != "https://m.example:8443/health" {
		t.Errorf("probeURL = %q", u)
	}
}
