package feedback

import (
	"math"
	"testing"
	"time"
)

func TestCounterDelta(t *testing.T) {
	tests := []struct {
		name      string
		prev, cur uint64
		bits      int
		want      uint64
		ok        bool
	}{
		{"grows", 100, 250, 64, 150, true},
		{"still", 7, 7, 64, 0, true},
		{"32-bit wrap", math.MaxUint32 - 9, 5, 32, 15, true},
		{"64-bit reset", 1 << 40, 10, 64, 0, false},
		{"32-bit values on a 64-bit counter going back", 500, 100, 64, 0, false},
	}
	for _, tt := range tests {
		got, ok := CounterDelta(tt.prev, tt.cur, tt.bits)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: CounterDelta(%d, %d, %d) = %d, %v; want %d, %v", tt.name, tt.prev, tt.cur, tt.bits, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzCounterDelta(f *testing.F) {
	f.Add(uint64(0), uint64(1), uint64(0), true)
	f.Add(uint64(math.MaxUint32), uint64(3), uint64(0), false)
	f.Fuzz(func(t *testing.T, prev, grow, _ uint64, narrow bool) {
		bits := 64
		if narrow {
			bits = 32
			prev &= math.MaxUint32
			grow &= math.MaxUint32
		}
		cur := prev + grow
		if bits == 32 {
			cur &= math.MaxUint32
		}
		got, ok := CounterDelta(prev, cur, bits)
		if bits == 64 && cur < prev {
			// The 64-bit sum overflowed: that is a reset, not growth.
			if ok {
				t.Fatalf("64-bit counter %d → %d reported growth %d", prev, cur, got)
			}
			return
		}
		if !ok || got != grow {
			t.Fatalf("CounterDelta(%d, %d, %d) = %d, %v; want %d", prev, cur, bits, got, ok, grow)
		}
	})
}

func TestRate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := func(out, in uint64, uptime uint32, at time.Duration) Sample {
		return Sample{OutOctets: out, InOctets: in, Bits: 64, SpeedBps: 1e9, Uptime: uptime, At: t0.Add(at)}
	}
	out, in, err := Rate(s(0, 0, 100, 0), s(12_500_000, 1_250_000, 1100, 10*time.Second))
	if err != nil || out != 10e6 || in != 1e6 {
		t.Errorf("Rate = %v, %v, %v; want 10 Mbit/s out, 1 Mbit/s in", out, in, err)
	}
	if _, _, err := Rate(s(0, 0, 5000, 0), s(100, 100, 20, 10*time.Second)); err != errRestart {
		t.Errorf("uptime went back: err = %v; want errRestart", err)
	}
	if _, _, err := Rate(s(5000, 0, 100, 0), s(100, 0, 200, time.Second)); err != errBackwards {
		t.Errorf("64-bit counter went back: err = %v; want errBackwards", err)
	}
	if _, _, err := Rate(s(0, 0, 100, 0), s(1_000_000_000, 0, 200, time.Second)); err == nil {
		t.Errorf("8 Gbit/s on a 1 Gbit/s link: no error")
	}
	a := Sample{OutOctets: math.MaxUint32 - 999, Bits: 32, At: t0}
	b := Sample{OutOctets: 1000, Bits: 32, At: t0.Add(time.Second)}
	if out, _, err := Rate(a, b); err != nil || out != 2000*8 {
		t.Errorf("32-bit wrap: %v, %v; want 16000 bit/s", out, err)
	}
}

func TestLaw(t *testing.T) {
	l := DefaultLaw
	tests := []struct {
		name          string
		current, util float64
		want          float64
	}{
		{"light load", 1, 0.1, 0.9},
		{"heavy load moves at most MaxStep", 1, 0.6, 0.75},
		{"inside the dead band", 0.5, 0.49, 0.5},
		{"floor", 0.2, 0.99 - 0.03, 0.05},
		{"saturated goes to 0 step by step", 0.2, 0.99, 0},
		{"saturated from the top", 1, 1, 0.75},
		{"recovers", 0.05, 0.1, 0.3},
	}
	for _, tt := range tests {
		if got := l.Headroom(tt.current, tt.util); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: Headroom(%v, %v) = %v; want %v", tt.name, tt.current, tt.util, got, tt.want)
		}
	}
	if got := l.Smooth(0, false, 0.4); got != 0.4 {
		t.Errorf("first Smooth = %v; want the reading", got)
	}
	if got := l.Smooth(0.4, true, 0.8); math.Abs(got-0.6) > 1e-9 {
		t.Errorf("Smooth(0.4, 0.8) = %v; want 0.6", got)
	}
}

// TestLawConverges closes the loop on paper: two mirrors of equal capacity
// share a demand in proportion to their weights (what the strategies do);
// each poll measures the utilisation the shares produce and the law sets
// new weights. The weights must settle without oscillating, at the law's
// fixed point: each mirror's headroom equals 1 − its utilisation. (That is
// a proportional law: it shifts load to the mirror with room, it does not
// equalise utilisation. Here the fixed point is share0 = 0.375, where the
// utilisations are 0.70 and 0.50.)
func TestLawConverges(t *testing.T) {
	l := DefaultLaw
	// Mirror 0 also carries 40% of its capacity of other traffic.
	const demand, background = 0.8, 0.4
	h := [2]float64{1, 1}
	var util [2]float64
	var have bool
	var swings []float64
	prevShare := 0.0
	for poll := range 40 {
		share0 := h[0] / (h[0] + h[1])
		u := [2]float64{background + demand*share0, demand * (1 - share0)}
		for i := range 2 {
			util[i] = l.Smooth(util[i], have, u[i])
			h[i] = l.Headroom(h[i], util[i])
		}
		have = true
		if poll > 0 {
			swings = append(swings, math.Abs(share0-prevShare))
		}
		prevShare = share0
	}
	if last := swings[len(swings)-1]; last > 0.01 {
		t.Errorf("still swinging by %.3f after 40 polls: %v", last, swings)
	}
	if math.Abs(prevShare-0.375) > 0.02 {
		t.Errorf("settled at share %.3f for the busy mirror; want the fixed point 0.375", prevShare)
	}
	// No growing oscillation: each swing after the first few is no larger
	// than the largest before it.
	for i := 5; i < len(swings); i++ {
		if swings[i] > swings[0]+1e-9 {
			t.Errorf("swing %d (%.3f) exceeds the first (%.3f): %v", i, swings[i], swings[0], swings)
		}
	}
}

func TestHealthWindow(t *testing.T) {
	h := newHealthState()
	now := time.Unix(0, 0)
	results := []struct {
		ok     bool
		wantUp bool
	}{
		{false, true}, {false, true}, {false, false}, // 5 window, threshold 3: the third failure takes it out
		{true, false}, {true, false}, {true, true}, // three passes bring it back
		{false, true},
	}
	for i, r := range results {
		h.record(r.ok, "", 5, 3, now.Add(time.Duration(i)*time.Second))
		if h.up != r.wantUp {
			t.Fatalf("after result %d (%v) up = %v; want %v", i, r.ok, h.up, r.wantUp)
		}
	}
	if h.upSince != now.Add(5*time.Second) {
		t.Errorf("upSince = %v; want the time it came back", h.upSince)
	}
}
