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

// EffectiveWeights is the one rule that turns what is known of the mirrors
// of a pool into the weights the strategies use, at now:
//
//	weight × enabled × health × headroom × ramp
//
// health is 0 for a probed mirror that is down, else 1; headroom is the
// bandwidth headroom of a polled mirror, else 1; ramp is, for a mirror
// that came back less than ramp ago, the share of ramp it has been up (at
// least a tenth). When no mirror of the pool would be usable and some are
// up, enabled and only saturated (headroom 0), those take l.Floor as their
// headroom: a busy pool keeps sending clients somewhere rather than to its
// fallback or a 503.
func (l Law) EffectiveWeights(in []WeightInput, now time.Time, ramp time.Duration) []float64 {
	out := make([]float64, len(in))
	usable := false
	for i := range in {
		out[i] = effectiveWeight(&in[i], now, ramp, -1)
		usable = usable || out[i] > 0
	}
	if usable {
		return out
	}
	for i := range in {
		if st := &in[i].State; in[i].Watched && st.Polled && st.Headroom <= 0 {
			out[i] = effectiveWeight(&in[i], now, ramp, l.Floor)
		}
	}
	return out
}

// effectiveWeight is the rule for one mirror; headroom < 0 means the
// mirror's own.
func effectiveWeight(in *WeightInput, now time.Time, ramp time.Duration, headroom float64) float64 {
	if !in.Enabled {
		return 0
	}
	w := in.Weight
	if !in.Watched {
		return w
	}
	st := &in.State
	if st.Probed && !st.Up {
		return 0
	}
	if st.Polled {
		if headroom < 0 {
			headroom = st.Headroom
		}
		w *= headroom
	}
	if ramp > 0 && !st.UpSince.IsZero() {
		if e := now.Sub(st.UpSince); e < ramp {
			w *= max(0.1, float64(e)/float64(ramp))
		}
	}
	return w
}
