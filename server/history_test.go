package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/handlers"
)

func statusOf(pool string, mirrors map[string]uint64) *handlers.Status {
	p := handlers.PoolStatus{Name: pool}
	for _, name := range []string{"a", "b", "c"} {
		if n, ok := mirrors[name]; ok {
			p.Mirrors = append(p.Mirrors, handlers.MirrorStatus{Name: name, Redirects: n, Utilization: 0.5, EffectiveWeight: 1})
		}
	}
	return &handlers.Status{Pools: []handlers.PoolStatus{p}}
}

// TestHistory fills the ring past its window: the series keep the last
// window, oldest first, rates come from each sample's predecessor, a
// mirror added later has nulls before it appeared, and since keeps only
// newer samples.
func TestHistory(t *testing.T) {
	h := newHistory(time.Minute) // 16 samples in 15 min
	start := time.Unix(1_800_000_000, 0)
	for i := range 40 {
		counts := map[string]uint64{"a": uint64(60 * i)} // 1 redirect/s
		if i >= 30 {
			counts["b"] = uint64(120 * (i - 30)) // 2/s, from sample 30
		}
		h.add(start.Add(time.Duration(i)*time.Minute), statusOf("p", counts))
	}
	now := statusOf("p", map[string]uint64{"a": 0, "b": 0})
	got := h.series(time.Time{}, now)
	if n := len(got.Times); n != 16 {
		t.Fatalf("%d samples kept; want 16", n)
	}
	if got.Times[0] != start.Add(24*time.Minute).UnixMilli() || got.Times[15] != start.Add(39*time.Minute).UnixMilli() {
		t.Errorf("times from %d to %d", got.Times[0], got.Times[15])
	}
	a, b := got.Pools[0].Mirrors[0], got.Pools[0].Mirrors[1]
	if a.Name != "a" || b.Name != "b" {
		t.Fatalf("mirrors %s %s", a.Name, b.Name)
	}
	if a.RedirectsPerSecond[0] != nil {
		t.Errorf("the oldest sample kept has a rate (%v): its predecessor was dropped", *a.RedirectsPerSecond[0])
	}
	for i := 1; i < 16; i++ {
		if r := a.RedirectsPerSecond[i]; r == nil || *r != 1 {
			t.Errorf("a's rate at %d = %v; want 1", i, r)
		}
	}
	for i := range 16 {
		switch r := b.RedirectsPerSecond[i]; {
		case i < 6 && (r != nil || b.Utilization[i] != nil): // samples 24..29: b not yet there
			t.Errorf("b at %d: %v before it existed", i, r)
		case i > 6 && (r == nil || *r != 2):
			t.Errorf("b's rate at %d = %v; want 2", i, r)
		}
	}
	newer := h.series(start.Add(37*time.Minute), now)
	if len(newer.Times) != 2 || *newer.Pools[0].Mirrors[0].RedirectsPerSecond[0] != 1 {
		t.Errorf("since 37 min: %d samples", len(newer.Times))
	}
}

// TestHistoryBounded: a pool of 1,000 mirrors has history for its first
// historyMirrors, the samples of one configuration share one list of
// names, and the mirrors past the bound have no points.
func TestHistoryBounded(t *testing.T) {
	h := newHistory(time.Minute)
	st := &handlers.Status{Pools: []handlers.PoolStatus{{Name: "big"}}}
	for i := range 1000 {
		st.Pools[0].Mirrors = append(st.Pools[0].Mirrors, handlers.MirrorStatus{Name: fmt.Sprintf("m%d", i), Redirects: uint64(i)})
	}
	start := time.Unix(1_800_000_000, 0)
	for i := range 3 {
		h.add(start.Add(time.Duration(i)*time.Minute), st)
	}
	all := h.samples()
	for _, s := range all {
		if n := len(s.pools[0].points); n != historyMirrors {
			t.Fatalf("a sample keeps %d points; want %d", n, historyMirrors)
		}
		if &s.pools[0].names[0] != &all[0].pools[0].names[0] {
			t.Fatal("the samples of one configuration do not share their names")
		}
	}
	got := h.series(time.Time{}, st)
	if m := got.Pools[0].Mirrors[historyMirrors-1]; m.EffectiveWeight[2] == nil || *m.RedirectsPerSecond[2] != 0 {
		t.Errorf("the last mirror within the bound has no points: %+v", m)
	}
	if m := got.Pools[0].Mirrors[historyMirrors]; m.EffectiveWeight[2] != nil {
		t.Errorf("a mirror past the bound has points")
	}
}
