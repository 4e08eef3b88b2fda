package feedback

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// recordedSample is one line of a recorded poll series (testdata/poll-*.json).
type recordedSample struct {
	AtS      float64 `json:"at_s"`
	Out      uint64  `json:"out"` // octets
	In       uint64  `json:"in"`
	Bits     int     `json:"bits"`
	SpeedBps float64 `json:"speed_bps"`
	Uptime   uint32  `json:"uptime"`
	Err      string  `json:"err"`
}

func loadSeries(t *testing.T, name string) []recordedSample {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Samples []recordedSample }
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f.Samples
}

// TestPollStep replays a recorded series through the poller's rule: the
// first sample starts the series, the next gives 600 Mbit/s out and a
// headroom that falls by bounded steps; a sample 0.1 s later is set aside;
// an agent restart discards a sample but keeps the weight; failures keep
// it until stale_after (60 s), then the configured weight returns; good
// samples start over.
func TestPollStep(t *testing.T) {
	law := DefaultLaw
	start := time.Unix(1_700_000_000, 0)
	tests := []struct {
		wantErr     string  // a substring of the state's error ("" : none)
		wantOut     float64 // out bit/s (-1: not checked)
		wantUtil    float64 // -1: not checked
		headroomMax float64 // the headroom is at most this
		headroomMin float64 // and at least this
		restored    bool
		resolveIf   bool
	}{
		{"", 0, 0, 1, 1, false, false},                           // first sample
		{"", 600e6, 0.6, 0.75, 0.75, false, false},               // first rate: one bounded step down
		{"", 600e6, 0.6, 0.75, 0.75, false, false},               // 0.1 s later: set aside
		{"", 600e6, 0.6, 0.5, 0.5, false, false},                 // another step
		{"", 600e6, 0.6, 0.45, 0.35, false, false},               // settles near 1 − u
		{"agent restarted", 600e6, 0.6, 0.45, 0.35, false, true}, // restart: sample discarded, weight kept
		{"", 600e6, 0.6, 0.45, 0.35, false, false},               // rates again from the new base
		{"no answer", 600e6, 0.6, 0.45, 0.35, false, false},      // a failure keeps the weight
		{"no answer", 600e6, 0.6, 0.45, 0.35, false, false},
		{"no good sample since", 0, 0, 1, 1, true, false}, // past stale_after: configured weight
		{"", -1, -1, 0.75, 0.75, false, false},            // a good sample: the rate since the last good one
		{"", 600e6, -1, 0.5, 0.5, false, false},
	}
	series := loadSeries(t, "poll-600mbps.json")
	if len(series) != len(tests) {
		t.Fatalf("%d samples for %d expectations", len(series), len(tests))
	}
	ps := pollState{headroom: 1}
	for i, rs := range series {
		now := start.Add(time.Duration(rs.AtS * float64(time.Second)))
		var err error
		s := Sample{OutOctets: rs.Out, InOctets: rs.In, Bits: rs.Bits, SpeedBps: rs.SpeedBps, Uptime: rs.Uptime, At: now}
		if rs.Err != "" {
			err, s = errors.New(rs.Err), Sample{}
		}
		var restored bool
		ps, restored = law.pollStep(ps, s, err, now, 0, 60*time.Second)
		tt := tests[i]
		switch {
		case tt.wantErr == "" && ps.err != "", tt.wantErr != "" && !strings.Contains(ps.err, tt.wantErr):
			t.Errorf("sample %d: err %q; want %q", i, ps.err, tt.wantErr)
		case tt.wantOut >= 0 && math.Abs(ps.outBps-tt.wantOut) > 1:
			t.Errorf("sample %d: out %.0f bit/s; want %.0f", i, ps.outBps, tt.wantOut)
		case tt.wantUtil >= 0 && math.Abs(ps.util-tt.wantUtil) > 1e-9:
			t.Errorf("sample %d: utilisation %.3f; want %.3f", i, ps.util, tt.wantUtil)
		case ps.headroom > tt.headroomMax+1e-9 || ps.headroom < tt.headroomMin-1e-9:
			t.Errorf("sample %d: headroom %.3f; want between %.2f and %.2f", i, ps.headroom, tt.headroomMin, tt.headroomMax)
		case restored != tt.restored:
			t.Errorf("sample %d: restored = %v; want %v", i, restored, tt.restored)
		case ps.resolveIf != tt.resolveIf && tt.resolveIf:
			t.Errorf("sample %d: no new interface lookup after an agent restart", i)
		}
		if tt.resolveIf {
			ps.resolveIf = false // what pollMirror does once it looked up again
		}
		if !ps.last.Equal(now) {
			t.Errorf("sample %d: last poll %v; want %v", i, ps.last, now)
		}
	}
}

// TestPollStepCapacity: without bandwidth_mbps nor a line speed there is
// no utilisation, and the error says what to set; a configured capacity
// wins over the line speed.
func TestPollStepCapacity(t *testing.T) {
	law := DefaultLaw
	t0 := time.Unix(0, 0)
	a := Sample{OutOctets: 0, Bits: 64, At: t0}
	b := Sample{OutOctets: 125_000_000, Bits: 64, At: t0.Add(10 * time.Second)} // 100 Mbit/s
	ps, _ := law.pollStep(pollState{headroom: 1}, a, nil, a.At, 0, 0)
	ps, _ = law.pollStep(ps, b, nil, b.At, 0, 0)
	if !strings.Contains(ps.err, "no capacity") || ps.headroom != 1 {
		t.Errorf("no capacity known: err %q headroom %v", ps.err, ps.headroom)
	}
	b.SpeedBps = 10e9 // the agent's line speed: 1% used
	ps, _ = law.pollStep(pollState{headroom: 1}, a, nil, a.At, 200e6, 0)
	ps, _ = law.pollStep(ps, b, nil, b.At, 200e6, 0) // bandwidth_mbps 200: 50% used
	if math.Abs(ps.util-0.5) > 1e-9 || ps.speedBps != 10e9 {
		t.Errorf("configured capacity: util %v speed %v; want 0.5 against 200 Mbit/s", ps.util, ps.speedBps)
	}
	// stale_after 0: failures never restore the configured weight.
	for i := range 10 {
		now := b.At.Add(time.Duration(i+1) * time.Hour)
		ps, _ = law.pollStep(ps, Sample{}, errors.New("down"), now, 200e6, 0)
	}
	if ps.headroom == 1 || !ps.haveUtil {
		t.Errorf("stale_after 0 restored the configured weight: %+v", ps)
	}
}
