package server_test

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/dispatcher/dispatcher/handlers"
	"github.com/dispatcher/dispatcher/internal/itest"
	"github.com/dispatcher/dispatcher/server"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// start runs a server on cfg until the test ends.
func start(t *testing.T, cfg string) *server.Server {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, cfg)
	return startFile(t, path)
}

func mirrorStatus(t *testing.T, srv *server.Server, pool, name string) handlers.MirrorStatus {
	t.Helper()
	for _, p := range srv.Status().Pools {
		if p.Name != pool {
			continue
		}
		for _, m := range p.Mirrors {
			if m.Name == name {
				return m
			}
		}
	}
	t.Fatalf("no mirror %s/%s in status", pool, name)
	return handlers.MirrorStatus{}
}

// redirect sends GET target and returns the X-Mirror and status.
func redirect(srv http.Handler, target string) (string, int) {
	req := httptest.NewRequest("GET", target, nil)
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	return w.Header().Get("X-Mirror"), w.Code
}

func within(got, want, tol float64) bool { return math.Abs(got-want) <= tol*want }

const snmpConfig = `{
  "feedback": {"schedule": "@every 1s", "timeout": "400ms", "retries": 0, "stale_after": "%s"},
  "pools": [{"name": "files", "routes": ["/f/*file"], "strategy": "random", "mirrors": [
    {"name": "light", "url": "http://light.example", "snmp": {"target": "%s", "community": "m1", "interface": "eth0"}},
    {"name": "heavy", "url": "http://heavy.example", "snmp": {"target": "%s", "community": "m2", "interface": "%s"}}
  ]}]}`

// TestSNMPWeights polls two simulated mirrors sending 100 and 600 Mbit/s on
// 1 Gbit/s links: the measured bandwidth is right to 10%, the lighter
// mirror gets the larger weight, and redirects follow the weights.
func TestSNMPWeights(t *testing.T) {
	agent := itest.SNMPSim(t, 0, map[string]string{
		"m1": itest.SNMPRec(itest.IfRec(1, "lo", 0, 0, 10000), itest.IfRec(3, "eth0", 100e6, 10e6, 1000)),
		"m2": itest.SNMPRec(itest.IfRec(3, "eth0", 600e6, 20e6, 1000)),
	})
	srv := start(t, fmt.Sprintf(snmpConfig, "60s", agent.Addr, agent.Addr, "eth0"))
	itest.WaitFor(t, 20*time.Second, "weights to settle", func() bool {
		l, h := mirrorStatus(t, srv, "files", "light"), mirrorStatus(t, srv, "files", "heavy")
		return within(l.BandwidthBps, 100e6, 0.1) && within(h.BandwidthBps, 600e6, 0.1) &&
			within(l.EffectiveWeight, 0.9, 0.05) && within(h.EffectiveWeight, 0.4, 0.1)
	})
	l, h := mirrorStatus(t, srv, "files", "light"), mirrorStatus(t, srv, "files", "heavy")
	t.Logf("light: %.1f Mbit/s, util %.2f, weight %.2f; heavy: %.1f Mbit/s, util %.2f, weight %.2f",
		l.BandwidthBps/1e6, l.Utilization, l.EffectiveWeight, h.BandwidthBps/1e6, h.Utilization, h.EffectiveWeight)
	if l.CapacityBps != 1e9 || l.PollError != "" || l.LastPoll == nil {
		t.Errorf("light status = %+v; want capacity 1e9 from ifHighSpeed, no error, a poll time", l)
	}
	counts := map[string]int{}
	for range 2000 {
		m, code := redirect(srv, "/f/x.iso")
		if code != 302 {
			t.Fatalf("status %d", code)
		}
		counts[m]++
	}
	l, h = mirrorStatus(t, srv, "files", "light"), mirrorStatus(t, srv, "files", "heavy")
	want := 2000 * l.EffectiveWeight / (l.EffectiveWeight + h.EffectiveWeight)
	if math.Abs(float64(counts["light"])-want) > 0.05*2000 {
		t.Errorf("light got %d of 2000; weights say %.0f", counts["light"], want)
	}
}

// TestSNMPWeightsByCapacity polls two simulated mirrors at the same 50%
// utilisation, one on a 1 Gbit/s link and one on 100 Mbit/s: the law
// weighs headroom by capacity, so the big link's spare 500 Mbit/s gets ten
// times the weight of the small one's spare 50, and the redirects follow.
func TestSNMPWeightsByCapacity(t *testing.T) {
	agent := itest.SNMPSim(t, 0, map[string]string{
		"m1": itest.SNMPRec(itest.IfRec(3, "eth0", 500e6, 10e6, 1000)),
		"m2": itest.SNMPRec(itest.IfRec(3, "eth0", 50e6, 1e6, 100)),
	})
	srv := start(t, fmt.Sprintf(snmpConfig, "60s", agent.Addr, agent.Addr, "eth0"))
	itest.WaitFor(t, 20*time.Second, "weights to settle", func() bool {
		l, h := mirrorStatus(t, srv, "files", "light"), mirrorStatus(t, srv, "files", "heavy")
		return within(l.Utilization, 0.5, 0.1) && within(h.Utilization, 0.5, 0.1) &&
			within(l.EffectiveWeight, 0.5, 0.1) && within(h.EffectiveWeight, 0.05, 0.2)
	})
	l, h := mirrorStatus(t, srv, "files", "light"), mirrorStatus(t, srv, "files", "heavy")
	if l.CapacityBps != 1e9 || h.CapacityBps != 100e6 {
		t.Errorf("capacities %v and %v; want 1e9 and 1e8 from ifHighSpeed", l.CapacityBps, h.CapacityBps)
	}
	counts := map[string]int{}
	for range 4000 {
		m, _ := redirect(srv, "/f/x.iso")
		counts[m]++
	}
	if share := float64(counts["heavy"]) / 4000; share < 0.05 || share > 0.13 {
		t.Errorf("the 100 Mbit/s mirror got %.1f%% of the redirects; its spare bandwidth is 1/11 of the pool's", 100*share)
	}
}

// TestSNMPAgentLoss stops the agent: the poll error says so, the configured
// weight returns after stale_after, and no request fails. The agent comes
// back with its counters reset: no negative or absurd rate is taken.
func TestSNMPAgentLoss(t *testing.T) {
	files := map[string]string{
		"m1": itest.SNMPRec(itest.IfRec(3, "eth0", 100e6, 10e6, 1000)),
		"m2": itest.SNMPRec(itest.IfRec(3, "eth0", 600e6, 20e6, 1000)),
	}
	agent := itest.SNMPSim(t, 0, files)
	srv := start(t, fmt.Sprintf(snmpConfig, "3s", agent.Addr, agent.Addr, "eth0"))
	itest.WaitFor(t, 20*time.Second, "heavy to lose weight", func() bool {
		return mirrorStatus(t, srv, "files", "heavy").EffectiveWeight < 0.8
	})
	var bad atomic.Int64
	agentBack := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			if _, code := redirect(srv, "/f/x"); code != 302 {
				bad.Add(1)
			}
			h := mirrorStatus(t, srv, "files", "heavy")
			if h.BandwidthBps < 0 || h.BandwidthBps > 1.1e9 || h.EffectiveWeight < 0 || h.EffectiveWeight > 1 {
				t.Errorf("absurd state: %+v", h)
				return
			}
			select {
			case <-time.After(20 * time.Millisecond):
			case <-agentBack:
				return
			}
		}
	}()
	agent.Kill()
	itest.WaitFor(t, 15*time.Second, "poll_error", func() bool {
		return mirrorStatus(t, srv, "files", "heavy").PollError != ""
	})
	if e := mirrorStatus(t, srv, "files", "heavy").PollError; !strings.Contains(e, "no answer") && !strings.Contains(e, "no agent listening") {
		t.Errorf("poll_error = %q; want it to say the agent does not answer", e)
	}
	itest.WaitFor(t, 10*time.Second, "configured weight after stale_after", func() bool {
		h := mirrorStatus(t, srv, "files", "heavy")
		return h.EffectiveWeight == 1 && strings.Contains(h.PollError, "no good sample since")
	})
	port := agent.Addr[strings.LastIndexByte(agent.Addr, ':')+1:]
	var p int
	fmt.Sscan(port, &p)
	itest.SNMPSim(t, p, files)
	itest.WaitFor(t, 20*time.Second, "weights back after the agent restarts", func() bool {
		h := mirrorStatus(t, srv, "files", "heavy")
		return h.PollError == "" && within(h.BandwidthBps, 600e6, 0.1) && h.EffectiveWeight < 0.8
	})
	close(agentBack)
	<-done
	if bad.Load() > 0 {
		t.Errorf("%d requests failed while the agent was away", bad.Load())
	}
}

func TestSNMPErrors(t *testing.T) {
	agent := itest.SNMPSim(t, 0, map[string]string{
		"m1": itest.SNMPRec(itest.IfRec(3, "eth0", 100e6, 10e6, 1000)),
		"m2": itest.SNMPRec(itest.IfRec(3, "eth0", 600e6, 20e6, 1000)),
	})
	silent := itest.SilentUDP(t)
	// light asks a silent agent; heavy names an interface that is not there.
	srv := start(t, fmt.Sprintf(snmpConfig, "60s", silent, agent.Addr, "eth9"))
	itest.WaitFor(t, 10*time.Second, "both errors", func() bool {
		return mirrorStatus(t, srv, "files", "light").PollError != "" && mirrorStatus(t, srv, "files", "heavy").PollError != ""
	})
	l, h := mirrorStatus(t, srv, "files", "light"), mirrorStatus(t, srv, "files", "heavy")
	if !strings.Contains(l.PollError, "no answer") {
		t.Errorf("silent agent: poll_error = %q", l.PollError)
	}
	if !strings.Contains(h.PollError, `interface "eth9" not found`) || !strings.Contains(h.PollError, "eth0") {
		t.Errorf("unknown interface: poll_error = %q; want it to name eth9 and list eth0", h.PollError)
	}
	// The timeout holds: polls keep coming every second.
	first := *l.LastPoll
	itest.WaitFor(t, 10*time.Second, "the next poll of the silent agent", func() bool {
		lp := mirrorStatus(t, srv, "files", "light").LastPoll
		return lp != nil && lp.After(first)
	})
	if l.EffectiveWeight != 1 || h.EffectiveWeight != 1 {
		t.Errorf("mirrors without good samples must keep their configured weight: %v, %v", l.EffectiveWeight, h.EffectiveWeight)
	}
}

// flaky is an HTTP mirror whose health answer a test controls.
type flaky struct {
	srv   *httptest.Server
	every atomic.Int64 // when > 0, pass one probe in every, fail the others
	n     atomic.Int64
}

func newFlaky(t *testing.T) *flaky {
	f := &flaky{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := f.n.Add(1)
		if e := f.every.Load(); e > 0 && k%e != 0 {
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

const healthConfig = `{
  "health": {"schedule": "@every 1s", "path": "/health", "timeout": "300ms", "window": 3, "threshold": 2, "ramp_up": "2s"},
  "pools": [
    {"name": "p", "routes": ["/p/*file"], "strategy": "roundrobin", "fallback": "https://fallback.example/",
     "mirrors": [{"name": "a", "url": "http://a.example", "health_url": "%s/health"}, {"name": "b", "url": "%s"}, {"name": "c", "url": "%s"}]}]}`

func TestHealth(t *testing.T) {
	a, b, c := newFlaky(t), newFlaky(t), newFlaky(t)
	srv := start(t, fmt.Sprintf(healthConfig, a.srv.URL, b.srv.URL, c.srv.URL))
	// a's URL (a.example) does not resolve: it is up only because its
	// health_url is probed instead. Wait for a full window of its probes.
	itest.WaitFor(t, 10*time.Second, "a full window of probes of a's health_url", func() bool {
		return a.n.Load() >= 4 && mirrorStatus(t, srv, "p", "a").LastProbe != nil
	})
	if a := mirrorStatus(t, srv, "p", "a"); !a.Up || a.ProbeError != "" {
		t.Fatalf("mirror a with a health_url: up %v, probe_error %q", a.Up, a.ProbeError)
	}
	// Kill b: it leaves within window × interval.
	addr := b.srv.Listener.Addr().String()
	b.srv.Close()
	start := time.Now()
	// Up is the monitor's view; the snapshot the requests use is rebuilt
	// right after it: wait for both.
	itest.WaitFor(t, 15*time.Second, "b down", func() bool {
		b := mirrorStatus(t, srv, "p", "b")
		return !b.Up && b.EffectiveWeight == 0
	})
	t.Logf("b taken out after %s", time.Since(start).Round(100*time.Millisecond))
	if e := mirrorStatus(t, srv, "p", "b").ProbeError; e == "" {
		t.Errorf("no probe_error for a dead mirror")
	}
	for range 30 {
		if m, _ := redirect(srv, "/p/x"); m == "b" {
			t.Fatalf("a dead mirror got a redirect")
		}
	}
	// Bring b back on its address: it returns by itself and ramps up.
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("cannot listen again on %s: %v", addr, err)
	}
	back := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	back.Listener = l
	back.Start()
	defer back.Close()
	itest.WaitFor(t, 15*time.Second, "b up", func() bool {
		b := mirrorStatus(t, srv, "p", "b")
		return b.Up && b.EffectiveWeight > 0
	})
	if w := mirrorStatus(t, srv, "p", "b").EffectiveWeight; w >= 1 || w <= 0 {
		t.Errorf("b's weight just after it came back = %v; want a ramp between 0 and 1", w)
	}
	itest.WaitFor(t, 15*time.Second, "b at full weight", func() bool {
		return mirrorStatus(t, srv, "p", "b").EffectiveWeight == 1
	})

	// A mirror failing two probes of three goes out and stays out, over
	// 6 more probes; one passing every probe stays in.
	a.every.Store(3)
	c.every.Store(1)
	itest.WaitFor(t, 10*time.Second, "a, failing 2 of 3, to go down", func() bool { return !mirrorStatus(t, srv, "p", "a").Up })
	probed := a.n.Load()
	itest.WaitFor(t, 20*time.Second, "6 more probes of a", func() bool {
		if mirrorStatus(t, srv, "p", "a").Up {
			t.Fatalf("a mirror failing 2 of 3 probes came back up")
		}
		if !mirrorStatus(t, srv, "p", "c").Up {
			t.Fatalf("a mirror passing every probe went down")
		}
		return a.n.Load() >= probed+6
	})

	// Every mirror down: the fallback answers.
	c.every.Store(1000)
	back.Close()
	itest.WaitFor(t, 15*time.Second, "all down", func() bool {
		m, code := redirect(srv, "/p/x")
		return m == "fallback" && code == 302
	})
}

// TestSaturation: a saturated mirror (≥ 97% of its link) takes no new
// clients while its pool has another; a pool whose every mirror is
// saturated keeps sending to them at the floor weight instead of failing.
func TestSaturation(t *testing.T) {
	agent := itest.SNMPSim(t, 0, map[string]string{
		"full": itest.SNMPRec(itest.IfRec(3, "eth0", 990e6, 1e6, 1000)),
		"idle": itest.SNMPRec(itest.IfRec(3, "eth0", 50e6, 1e6, 1000)),
	})
	srv := start(t, fmt.Sprintf(`{
  "feedback": {"schedule": "@every 1s", "timeout": "400ms", "retries": 0},
  "pools": [
    {"name": "mixed", "routes": ["/m/*file"], "mirrors": [
      {"name": "full", "url": "http://full.example", "snmp": {"target": "%[1]s", "community": "full", "interface": "eth0"}},
      {"name": "idle", "url": "http://idle.example", "snmp": {"target": "%[1]s", "community": "idle", "interface": "eth0"}}]},
    {"name": "busy", "routes": ["/b/*file"], "mirrors": [
      {"name": "full1", "url": "http://f1.example", "snmp": {"target": "%[1]s", "community": "full", "interface": "eth0"}},
      {"name": "full2", "url": "http://f2.example", "snmp": {"target": "%[1]s", "community": "full", "interface": "eth0"}}]}]}`, agent.Addr))
	itest.WaitFor(t, 20*time.Second, "the saturated mirror to reach weight 0", func() bool {
		return mirrorStatus(t, srv, "mixed", "full").EffectiveWeight == 0
	})
	only(t, "mixed pool", picks(t, srv, 50, "/m/x", "192.0.2.1:1", nil), "idle")
	for _, m := range []string{"full1", "full2"} {
		if w := mirrorStatus(t, srv, "busy", m).EffectiveWeight; w <= 0 || w > 0.1 {
			t.Errorf("all-saturated pool: %s has weight %v; want the floor (0.05)", m, w)
		}
	}
	busy := picks(t, srv, 100, "/b/x", "192.0.2.1:1", nil)
	if busy["full1"] == 0 || busy["full2"] == 0 {
		t.Errorf("all-saturated pool: %v; want both mirrors, no fallback", busy)
	}
}

// TestSNMPv1Counter32 polls an SNMPv1 agent that has only the 32-bit
// IF-MIB counters. The outbound one runs at 800 Mbit/s from 4 s short of
// 2^32, so it wraps about 4 s after the agent starts, in the middle of the
// polls: every rate must stay right across the wrap.
func TestSNMPv1Counter32(t *testing.T) {
	rec := strings.Join([]string{
		"1.3.6.1.2.1.1.3.0|67:numeric|rate=100,initial=1000",
		"1.3.6.1.2.1.2.2.1.2.3|4|eth0",
		"1.3.6.1.2.1.2.2.1.5.3|66|1000000000",
		"1.3.6.1.2.1.2.2.1.10.3|65:numeric|rate=1250000,initial=4290000000,wrap=1",
		"1.3.6.1.2.1.2.2.1.16.3|65:numeric|rate=100000000,initial=3894967295,wrap=1",
	}, "\n") + "\n"
	agent := itest.SNMPSim(t, 0, map[string]string{"old": rec})
	srv := start(t, fmt.Sprintf(`{
  "feedback": {"schedule": "@every 1s", "timeout": "400ms", "retries": 0},
  "pools": [{"name": "p", "routes": ["/p/*file"], "mirrors": [
    {"name": "old", "url": "http://old.example", "snmp": {"target": "%s", "community": "old", "version": "1", "interface": "eth0"}}]}]}`, agent.Addr))
	var seen []float64
	itest.WaitFor(t, 20*time.Second, "seven good polls, across the wrap", func() bool {
		m := mirrorStatus(t, srv, "p", "old")
		if m.PollError != "" {
			t.Fatalf("poll_error = %q", m.PollError)
		}
		if m.BandwidthBps > 0 && (len(seen) == 0 || seen[len(seen)-1] != m.BandwidthBps) {
			seen = append(seen, m.BandwidthBps)
		}
		return len(seen) >= 7
	})
	for _, bps := range seen {
		if !within(bps, 800e6, 0.1) {
			t.Errorf("rates across the wrap = %v; want 800 Mbit/s each", seen)
			break
		}
	}
	if m := mirrorStatus(t, srv, "p", "old"); m.CapacityBps != 1e9 || !within(m.Utilization, 0.8, 0.1) {
		t.Errorf("capacity %v from ifSpeed, utilisation %v; want 1e9 and 0.8", m.CapacityBps, m.Utilization)
	}
}

// TestSNMPv3 polls an agent over SNMPv3 with SHA authentication and AES
// privacy; the context name selects the agent's data.
func TestSNMPv3(t *testing.T) {
	agent := itest.SNMPSim(t, 0, map[string]string{"mirror3": itest.SNMPRec(itest.IfRec(3, "eth0", 300e6, 1e6, 1000))},
		"--v3-user=dispatcher", "--v3-auth-key=auth-secret-1", "--v3-auth-proto=SHA",
		"--v3-priv-key=priv-secret-1", "--v3-priv-proto=AES")
	srv := start(t, fmt.Sprintf(`{
  "feedback": {"schedule": "@every 1s", "timeout": "500ms", "retries": 0},
  "pools": [{"name": "p", "routes": ["/p/*file"], "mirrors": [
    {"name": "v3", "url": "http://v3.example", "snmp": {"target": "%[1]s", "version": "3", "user": "dispatcher",
      "auth_protocol": "SHA", "auth_password": "auth-secret-1", "priv_protocol": "AES", "priv_password": "priv-secret-1",
      "context_name": "mirror3", "interface": "eth0"}},
    {"name": "wrongkey", "url": "http://w.example", "snmp": {"target": "%[1]s", "version": "3", "user": "dispatcher",
      "auth_protocol": "SHA", "auth_password": "not-the-key", "priv_protocol": "AES", "priv_password": "priv-secret-1",
      "context_name": "mirror3", "interface": "eth0"}}]}]}`, agent.Addr))
	itest.WaitFor(t, 15*time.Second, "the SNMPv3 rate", func() bool {
		return within(mirrorStatus(t, srv, "p", "v3").BandwidthBps, 300e6, 0.1)
	})
	itest.WaitFor(t, 10*time.Second, "an error for the wrong key", func() bool {
		return mirrorStatus(t, srv, "p", "wrongkey").PollError != ""
	})
	t.Logf("wrong key: %s", mirrorStatus(t, srv, "p", "wrongkey").PollError)
}
