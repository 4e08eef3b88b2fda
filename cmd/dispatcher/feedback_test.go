package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestFeedbackLease runs two dispatchers on one Redis with one SNMP agent:
// one instance polls, the other reads its results; the agent sees one
// poller's worth of requests; when the poller dies the other takes over.
func TestFeedbackLease(t *testing.T) {
	r := itest.Redis(t, 0)
	agent := itest.SNMPSim(t, 0, map[string]string{
		"m1": itest.SNMPRec(itest.IfRec(3, "eth0", 100e6, 10e6, 1000)),
		"m2": itest.SNMPRec(itest.IfRec(3, "eth0", 600e6, 20e6, 1000)),
	})
	cfg := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, cfg, fmt.Sprintf(`{
  "feedback": {"schedule": "@every 1s", "timeout": "400ms", "retries": 0},
  "pools": [{"name": "files", "routes": ["/f/*file"], "mirrors": [
    {"name": "light", "url": "http://light.example", "snmp": {"target": "%s", "community": "m1", "interface": "eth0"}},
    {"name": "heavy", "url": "http://heavy.example", "snmp": {"target": "%s", "community": "m2", "interface": "eth0"}}]}]}`,
		agent.Addr, agent.Addr))
	args := []string{"-redis", "redis://" + r.Addr + "/0", "-quiet"}
	const leading = "this instance now probes and polls"
	a := itest.Dispatcher(t, cfg, nil, args...)
	itest.WaitFor(t, 10*time.Second, "a to take the lease", func() bool { return strings.Contains(a.Output(), leading) })
	b := itest.Dispatcher(t, cfg, nil, args...)

	bandwidth := func(p *itest.Process) float64 {
		for _, pp := range status(t, p)["pools"].([]any) {
			for _, m := range pp.(map[string]any)["mirrors"].([]any) {
				mm := m.(map[string]any)
				if mm["name"] == "heavy" {
					return mm["bandwidth_bps"].(float64)
				}
			}
		}
		return 0
	}
	near := func(v float64) bool { return v > 540e6 && v < 660e6 }
	itest.WaitFor(t, 15*time.Second, "both instances to show the measured bandwidth", func() bool {
		return near(bandwidth(a)) && near(bandwidth(b))
	})
	itest.WaitFor(t, 10*time.Second, "b to say it follows", func() bool {
		return strings.Contains(b.Output(), "another instance holds the feedback lease")
	})
	if !strings.Contains(a.Output(), leading) || strings.Contains(b.Output(), leading) {
		t.Fatalf("want a to poll and b to follow\na:\n%s\nb:\n%s", a.Output(), b.Output())
	}
	// One poller: while a polls 4 times, the agent answers one sample GET
	// per mirror per poll (each carries sysUpTime.0), about 8, not twice
	// that.
	gets := func() int { return strings.Count(agent.Output(), "Response var-binds: 1.3.6.1.2.1.1.3.0=") }
	lastPoll := func(p *itest.Process) string {
		for _, pp := range status(t, p)["pools"].([]any) {
			for _, m := range pp.(map[string]any)["mirrors"].([]any) {
				if mm := m.(map[string]any); mm["name"] == "heavy" {
					s, _ := mm["last_poll"].(string)
					return s
				}
			}
		}
		return ""
	}
	before, polls, seen := gets(), 0, lastPoll(a)
	itest.WaitFor(t, 20*time.Second, "4 polls by a", func() bool {
		if lp := lastPoll(a); lp != seen {
			polls, seen = polls+1, lp
		}
		return polls >= 4
	})
	if n := gets() - before; n > 12 {
		t.Errorf("the agent answered %d sample GETs during 4 polls of 2 mirrors; one poller makes about 8", n)
	} else {
		t.Logf("%d sample GETs during 4 polls of 2 mirrors with 2 dispatchers", n)
	}
	// Kill the poller without letting it release anything.
	a.Kill()
	itest.WaitFor(t, 10*time.Second, "b to take over", func() bool { return strings.Contains(b.Output(), leading) })
	before = gets()
	itest.WaitFor(t, 10*time.Second, "b's polls to reach the agent", func() bool { return gets() >= before+4 })
	if !near(bandwidth(b)) {
		t.Errorf("b shows %.0f bit/s after taking over", bandwidth(b))
	}
}
