package feedback

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dispatcher/dispatcher/config"
	"github.com/dispatcher/dispatcher/internal/itest"
	"github.com/dispatcher/dispatcher/store"
)

func TestRampingRebuilds(t *testing.T) {
	var rebuilds atomic.Int64
	m := New(Options{OnChange: func() { rebuilds.Add(1) }})
	cfg := &config.Config{Health: &config.Health{RampUp: config.Duration(2 * time.Second)}}
	m.cfg = cfg
	mr := &mirror{health: newHealthState()}
	m.mirrors = map[store.MirrorKey]*mirror{{Pool: "p", Mirror: "m"}: mr}
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
		s := &schedules{ctx: context.Background()}
		mr.health.up, mr.health.upSince = true, time.Now().Add(-tt.since)
		if got := m.ramping(s, time.Now(), time.Second); got != tt.want {
			t.Errorf("%s: ramping = %v; want %v", tt.name, got, tt.want)
		}
		if scheduled := s.ramp != nil; scheduled != tt.soonest {
			t.Errorf("%s: rebuild at the end of the ramp scheduled = %v; want %v", tt.name, scheduled, tt.soonest)
		}
		if tt.soonest {
			itest.WaitFor(t, 15*time.Second, "the rebuild at the end of the ramp", func() bool { return rebuilds.Load() > 0 })
		}
	}
	mr.health.upSince = time.Time{} // up since start: no ramp
	if m.ramping(&schedules{ctx: context.Background()}, now, time.Second) {
		t.Errorf("a mirror up since start is not ramping")
	}
}

// TestRampTimerEndsWithStop: a rebuild scheduled for the end of a ramp is
// cancelled with its schedules (a reload or Stop).
func TestRampTimerEndsWithStop(t *testing.T) {
	var rebuilds atomic.Int64
	m := New(Options{OnChange: func() { rebuilds.Add(1) }})
	m.cfg = &config.Config{Health: &config.Health{RampUp: config.Duration(10 * time.Second)}}
	mr := &mirror{health: newHealthState()}
	m.mirrors = map[store.MirrorKey]*mirror{{Pool: "p", Mirror: "m"}: mr}
	mr.health.up, mr.health.upSince = true, time.Now().Add(-time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	s := &schedules{ctx: ctx, cancel: cancel, cron: cron.New()}
	m.ramping(s, time.Now(), 20*time.Second) // the ramp ends in 9 s, before the next run
	if s.ramp == nil {
		t.Fatal("no rebuild scheduled at the end of the ramp")
	}
	s.stop()
	if s.ramp.Stop() {
		t.Error("the ramp timer was still pending after its schedules stopped")
	}
	m.Stop()
	if n := rebuilds.Load(); n != 0 {
		t.Errorf("rebuilds = %d; want 0", n)
	}
}
