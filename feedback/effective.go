package feedback

import "time"

// WeightInput is what one mirror's effective weight depends on.
type WeightInput struct {
	// Weight is the configured weight.
	Weight float64
	// Enabled is false for a mirror disabled in the file or drained.
	Enabled bool
	// State is what the monitor knows of the mirror; Watched is false for
	// a mirror it does not know (yet), which counts as up at full headroom.
	State   MirrorState
	Watched bool
}

// Factors are the terms of one mirror's effective weight:
//
//	weight × enabled × health × headroom × ramp
type Factors struct {
	// Enabled is false for a mirror disabled in the file or drained.
	Enabled bool
	// Health is 0 for a probed mirror that is down, else 1.
	Health float64
	// Headroom is the bandwidth headroom of a polled mirror, else 1.
	Headroom float64
	// Ramp is, for a mirror that came back less than ramp ago, the share
	// of ramp it has been up (at least a tenth), else 1.
	Ramp float64
	// Capacity is, with Law.ByCapacity, a polled mirror's link capacity
	// over the largest of its pool's polled mirrors (else 1): headroom ×
	// Capacity is spare bandwidth, so that mirrors of equal weight settle
	// at equal utilisation whatever their links.
	Capacity float64
	// Floored is set when Headroom was raised to the law's floor: no
	// mirror of the pool would be usable, and this one is only saturated.
	Floored bool
}

// Of returns the effective weight of a mirror of configured weight w.
func (f Factors) Of(w float64) float64 {
	if !f.Enabled {
		return 0
	}
	return w * f.Health * f.Headroom * f.Ramp * f.Capacity
}

// EffectiveWeights is the one rule that turns what is known of the mirrors
// of a pool into the weights the strategies use, at now: Explain's
// factors, multiplied.
func (l Law) EffectiveWeights(in []WeightInput, now time.Time, ramp time.Duration) []float64 {
	out := make([]float64, len(in))
	for i, f := range l.Explain(in, now, ramp) {
		out[i] = f.Of(in[i].Weight)
	}
	return out
}

// Explain returns the factors of every mirror's effective weight at now.
// health is 0 for a probed mirror that is down; headroom is that of a
// polled mirror; ramp is, for a mirror that came back less than ramp ago,
// the share of ramp it has been up (at least a tenth). When no mirror of
// the pool would be usable and some are up, enabled and only saturated
// (headroom 0), those take l.Floor as their headroom: a busy pool keeps
// sending clients somewhere rather than to its fallback or a 503.
func (l Law) Explain(in []WeightInput, now time.Time, ramp time.Duration) []Factors {
	out := make([]Factors, len(in))
	var largest float64
	if l.ByCapacity {
		for i := range in {
			if st := &in[i].State; in[i].Watched && st.Polled {
				largest = max(largest, st.CapacityBps)
			}
		}
	}
	usable := false
	for i := range in {
		out[i] = factors(&in[i], now, ramp)
		if st := &in[i].State; largest > 0 && in[i].Watched && st.Polled && st.CapacityBps > 0 {
			out[i].Capacity = st.CapacityBps / largest
		}
		usable = usable || out[i].Of(in[i].Weight) > 0
	}
	if usable {
		return out
	}
	for i := range in {
		if st := &in[i].State; in[i].Enabled && out[i].Health > 0 && in[i].Watched && st.Polled && st.Headroom <= 0 {
			out[i].Headroom, out[i].Floored = l.Floor, true
		}
	}
	return out
}

// factors is the rule for one mirror.
func factors(in *WeightInput, now time.Time, ramp time.Duration) Factors {
	f := Factors{Enabled: in.Enabled, Health: 1, Headroom: 1, Ramp: 1, Capacity: 1}
	if !in.Watched {
		return f
	}
	st := &in.State
	if st.Probed && !st.Up {
		f.Health = 0
	}
	if st.Polled {
		f.Headroom = st.Headroom
	}
	if ramp > 0 && !st.UpSince.IsZero() {
		if e := now.Sub(st.UpSince); e < ramp {
			f.Ramp = max(0.1, float64(e)/float64(ramp))
		}
	}
	return f
}
