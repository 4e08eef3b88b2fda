package feedback

import (
	"math"
	"testing"
	"time"
)

func TestEffectiveWeights(t *testing.T) {
	now := time.Unix(1000, 0)
	const ramp = 30 * time.Second
	up := MirrorState{Probed: true, Up: true, Headroom: 1}
	down := MirrorState{Probed: true, Up: false, Headroom: 1}
	polled := func(h float64) MirrorState { s := up; s.Polled, s.Headroom = true, h; return s }
	since := func(d time.Duration) MirrorState { s := up; s.UpSince = now.Add(-d); return s }
	w := func(weight float64, enabled bool, st MirrorState) WeightInput {
		return WeightInput{Weight: weight, Enabled: enabled, State: st, Watched: true}
	}
	tests := []struct {
		name string
		in   []WeightInput
		want []float64
	}{
		{"not watched: configured weight", []WeightInput{{Weight: 3, Enabled: true}}, []float64{3}},
		{"drained or disabled", []WeightInput{w(3, false, up), {Weight: 2}}, []float64{0, 0}},
		{"up, not polled", []WeightInput{w(2, true, up)}, []float64{2}},
		{"down", []WeightInput{w(2, true, down), w(1, true, up)}, []float64{0, 1}},
		{"not probed counts as up", []WeightInput{w(2, true, MirrorState{Headroom: 1})}, []float64{2}},
		{"headroom", []WeightInput{w(2, true, polled(0.25)), w(1, true, polled(1))}, []float64{0.5, 1}},
		{"ramp half-way", []WeightInput{w(2, true, since(15*time.Second))}, []float64{1}},
		{"ramp start: a tenth", []WeightInput{w(2, true, since(0))}, []float64{0.2}},
		{"ramp over", []WeightInput{w(2, true, since(time.Minute))}, []float64{2}},
		{"saturated beside a usable mirror stays out", []WeightInput{w(1, true, polled(0)), w(1, true, polled(0.5))}, []float64{0, 0.5}},
		{"all saturated: the floor", []WeightInput{w(1, true, polled(0)), w(2, true, polled(0))}, []float64{0.05, 0.1}},
		{"all out: a down one gets no floor", []WeightInput{w(1, true, polled(0)), w(1, true, down)}, []float64{0.05, 0}},
		{"all out: a drained one gets no floor", []WeightInput{w(1, false, polled(0)), w(1, true, polled(0))}, []float64{0, 0.05}},
		{"all saturated, ramping", []WeightInput{w(2, true, func() MirrorState { s := polled(0); s.UpSince = now.Add(-15 * time.Second); return s }())}, []float64{0.05}},
	}
	law := Law{Floor: 0.05}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := law.EffectiveWeights(tt.in, now, ramp)
			for i := range tt.want {
				if math.Abs(got[i]-tt.want[i]) > 1e-9 {
					t.Errorf("EffectiveWeights = %v; want %v", got, tt.want)
					break
				}
			}
		})
	}
}

// TestEffectiveWeightsByCapacity: headroom is weighed by link capacity
// over the pool's largest polled link, so equal weights share by spare bits
// per second; a mirror that is not polled keeps factor 1; without
// ByCapacity the capacities do not matter.
func TestEffectiveWeightsByCapacity(t *testing.T) {
	polled := func(capBps, headroom float64) WeightInput {
		return WeightInput{Weight: 2, Enabled: true, Watched: true,
			State: MirrorState{Polled: true, CapacityBps: capBps, Headroom: headroom}}
	}
	in := []WeightInput{polled(1e9, 0.5), polled(100e6, 0.5), polled(400e6, 1), {Weight: 2, Enabled: true}}
	now := time.Now()
	got := DefaultLaw.EffectiveWeights(in, now, 0)
	want := []float64{1, 0.1, 0.8, 2}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Errorf("by capacity, mirror %d: %v; want %v", i, got[i], want[i])
		}
	}
	if f := DefaultLaw.Explain(in, now, 0); f[1].Capacity != 0.1 || f[3].Capacity != 1 {
		t.Errorf("capacity factors %v, %v", f[1].Capacity, f[3].Capacity)
	}
	fraction := DefaultLaw
	fraction.ByCapacity = false
	got = fraction.EffectiveWeights(in, now, 0)
	for i, w := range []float64{1, 1, 2, 2} {
		if math.Abs(got[i]-w) > 1e-9 {
			t.Errorf("by fraction, mirror %d: %v; want %v", i, got[i], w)
		}
	}
}
