package feedback

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/config"
)

func TestRampingRebuilds(t *testing.T) {
	var rebuilds atomic.Int64
	m := New(Options{OnChange: func() { rebuilds.Add(1) }})
	cfg := &config.Config{Health: &config.Health{RampUp: config.Duration(2 * time.Second)}}
	m.cfg = cfg
	mr := &mirror{health: newHealthState()}
	m.mirrors = map[Key]*mirror{{Pool: "p", Mirror: "m"}: mr}
	now := time.Now()
	tests := []struct {
		name    string
		since   time.Duration // how long ago the mirror came back
		want    bool
		soonest bool // a rebuild is scheduled at the end of the ramp
	}{
		{"ramping, ends after the next run", 500 * time.Millisecond, true, false},
		{"ramping, ends before the next run", 1500 * time.Millisecond, true, true},
		{"ramp ended since the last run", 2300 * time.Millisecond, true, false},
		{"ramp ended long ago", 3500 * time.Millisecond, false, false},
	}
	for _, tt := range tests {
		rebuilds.Store(0)
		mr.health.up, mr.health.upSince = true, now.Add(-tt.since)
		if got := m.ramping(now, time.Second); got != tt.want {
			t.Errorf("%s: ramping = %v; want %v", tt.name, got, tt.want)
		}
		time.Sleep(600 * time.Millisecond)
		if fired := rebuilds.Load() > 0; fired != tt.soonest {
			t.Errorf("%s: rebuild at the end of the ramp scheduled = %v; want %v", tt.name, fired, tt.soonest)
		}
	}
	mr.health.upSince = time.Time{} // up since start: no ramp
	if m.ramping(now, time.Second) {
		t.Errorf("a mirror up since start is not ramping")
	}
}
