package sim

import "math"

// histogram counts download times in log-spaced buckets, 16 an octave
// from 1/1024 s (read from the float's bits, no logarithm): quantiles
// within a bucket (at most 6.25% above), in constant memory.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
}

const (
	histPerOctave = 16
	histMinExp    = -10 // 2^-10 s
	histBuckets   = 30 * histPerOctave
)

func (h *histogram) add(seconds float64) {
	frac, exp := math.Frexp(max(seconds, 1.0/1024)) // seconds = frac × 2^exp, frac in [0.5, 1)
	i := (exp-1-histMinExp)*histPerOctave + int((frac*2-1)*histPerOctave)
	h.counts[min(max(i, 0), histBuckets-1)]++
	h.n++
}

// quantile returns the upper bound of the bucket holding quantile q.
func (h *histogram) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(h.n)))
	var seen uint64
	i := 0
	for ; i < histBuckets-1; i++ {
		seen += h.counts[i]
		if seen >= want {
			break
		}
	}
	octave, step := i/histPerOctave, i%histPerOctave
	return math.Ldexp(1+float64(step+1)/histPerOctave, octave+histMinExp)
}

// settling measures, from the weights published at every poll and change,
// how long the shares took to settle after each change (SettleS), and how
// much the weights wobbled once settled (WeightStddev).
//
// The measured window is cut into periods at the changes. In each, a
// mirror's settled share is its mean share over the period's second half;
// the period has settled from the first poll at which the moving average
// over three polls of every mirror's share is within 0.05 of its settled
// share. WeightStddev is the largest wobble of effective ÷ configured
// weight over the settled part of every period.
func (r *run) settling(end float64) (settle, stddev float64) {
	bounds := []float64{r.measureAt}
	for _, c := range r.cfg.Changes {
		if c.At > r.measureAt && c.At < end {
			bounds = append(bounds, c.At)
		}
	}
	bounds = append(bounds, end)
	for p := 0; p+1 < len(bounds); p++ {
		from, to := bounds[p], bounds[p+1]
		var idx []int
		for i, t := range r.shareTime {
			if t >= from && t < to {
				idx = append(idx, i)
			}
		}
		if len(idx) < 4 {
			continue
		}
		mirrors := len(r.shares[idx[0]])
		ref := make([]float64, mirrors)
		half := idx[len(idx)/2:]
		for _, i := range half {
			for m := range mirrors {
				ref[m] += r.shares[i][m] / float64(len(half))
			}
		}
		settledAt := len(idx) - 1
		for k := 2; k < len(idx); k++ {
			ok := true
			for m := range mirrors {
				avg := (r.shares[idx[k]][m] + r.shares[idx[k-1]][m] + r.shares[idx[k-2]][m]) / 3
				if math.Abs(avg-ref[m]) > 0.05 {
					ok = false
					break
				}
			}
			if ok {
				settledAt = k
				break
			}
		}
		if p > 0 { // a period that starts at a change
			settle = max(settle, r.shareTime[idx[settledAt]]-from)
		}
		for m := range mirrors {
			vs := make([]float64, 0, len(idx)-settledAt)
			for _, i := range idx[settledAt:] {
				vs = append(vs, r.ratios[i][m])
			}
			stddev = max(stddev, wobble(vs, trendPolls))
		}
	}
	return math.Round(settle), round3(stddev)
}

// trendPolls is the width of the moving average a weight's trend is taken
// as: 61 polls, 10 minutes at the default 10 s.
const trendPolls = 61

// wobble returns the standard deviation of vs around its centred moving
// average over window points: the polls' swings (noise, oscillation)
// without the slow trend (the daily cycle moves the weights, as it
// should).
func wobble(vs []float64, window int) float64 {
	if len(vs) < 2 {
		return 0
	}
	prefix := make([]float64, len(vs)+1)
	for i, v := range vs {
		prefix[i+1] = prefix[i] + v
	}
	var sq float64
	for i, v := range vs {
		lo, hi := max(0, i-window/2), min(len(vs), i+window/2+1)
		d := v - (prefix[hi]-prefix[lo])/float64(hi-lo)
		sq += d * d
	}
	return math.Sqrt(sq / float64(len(vs)))
}
