package sim

import (
	"math"
	"math/rand/v2"
	"net/netip"
)

// Workload is what the clients ask for: when, what size, from where, and
// over what kind of line.
type Workload struct {
	// HotShare of the requests are for one ISO of HotBytes.
	HotShare float64
	HotBytes float64
	// TailShare of the others come from a Pareto tail (TailMin bytes,
	// index TailAlpha); the rest from a lognormal body (median BodyMedian
	// bytes, shape BodySigma).
	TailShare  float64
	TailMin    float64
	TailAlpha  float64
	BodyMedian float64
	BodySigma  float64
	// AbortShare of the downloads are given up after a uniform part of
	// their size.
	AbortShare float64
	// ClientMedianMbps and ClientSigma spread the clients' own bandwidth
	// (lognormal), mapped onto the classes of clientMbps.
	ClientMedianMbps float64
	ClientSigma      float64
	// DailySwing is the amplitude of the daily cycle of arrivals (0.3:
	// ±30% around the mean, lowest at 04:00, highest at 16:00).
	DailySwing float64
	// A release-day spike multiplies the arrival rate by SpikeFactor from
	// SpikeAt for SpikeFor (seconds from the start).
	SpikeAt, SpikeFor, SpikeFactor float64
	// Countries the clients come from, with weights (geo); Clients is how
	// many distinct addresses they have (ip hash).
	Countries []Weighted
	Clients   int
	// DominantShare of the requests come from one client address, for the
	// hot ISO, over the fastest class.
	DominantShare float64
}

// Weighted is a value with a weight.
type Weighted struct {
	Value  string
	Weight float64
}

// DefaultWorkload is a distribution mirror: mostly packages of a few MB,
// a heavy tail of big archives, one hot ISO.
func DefaultWorkload() Workload {
	return Workload{
		HotShare: 0.02, HotBytes: 3e9,
		TailShare: 0.08, TailMin: 50e6, TailAlpha: 1.5,
		BodyMedian: 2e6, BodySigma: 1.5,
		AbortShare:       0.1,
		ClientMedianMbps: 20, ClientSigma: 1.2,
		DailySwing: 0.3,
		Clients:    200_000,
	}
}

// request is one client's request.
type request struct {
	size    float64 // bytes it will take (less than the file when aborted)
	aborted bool
	class   int
	ip      netip.Addr
	country string
}

// sampler draws requests of a Workload.
type sampler struct {
	w         *Workload
	countries *table // nil: no country
	// below is, per class, the share of clients slower than the next
	// class (lognormal bandwidth): a client is in the first class whose
	// share is above a uniform draw.
	below [classes]float64
	// addresses: false when no strategy looks at them (only ip hash does).
	addresses bool
}

func newSampler(w *Workload, countries *table) *sampler {
	s := &sampler{w: w, countries: countries, addresses: true}
	for k := range clientMbps {
		s.below[k] = 1
		if k+1 < classes {
			z := math.Log(clientMbps[k+1]/w.ClientMedianMbps) / max(w.ClientSigma, 1e-9)
			s.below[k] = 0.5 * math.Erfc(-z/math.Sqrt2) // the normal CDF
		}
	}
	return s
}

// draw returns a request.
func (s *sampler) draw(r *rand.Rand) request {
	w := s.w
	var q request
	if w.DominantShare > 0 && r.Float64() < w.DominantShare {
		q.size, q.class = w.HotBytes, classes-1
		q.ip = netip.AddrFrom4([4]byte{203, 0, 113, 7})
	} else {
		switch u := r.Float64(); {
		case u < w.HotShare:
			q.size = w.HotBytes
		case u < w.HotShare+w.TailShare:
			q.size = w.TailMin * math.Pow(1-r.Float64(), -1/w.TailAlpha)
		default:
			q.size = w.BodyMedian * math.Exp(w.BodySigma*r.NormFloat64())
		}
		u := r.Float64()
		for q.class < classes-1 && u >= s.below[q.class] {
			q.class++
		}
		if s.addresses {
			n := uint32(r.IntN(max(w.Clients, 1)))
			q.ip = netip.AddrFrom4([4]byte{10 + byte(n>>24&63), byte(n >> 16), byte(n >> 8), byte(n)})
		}
	}
	if s.countries != nil {
		q.country = s.countries.pick(r.Float64())
	}
	if w.AbortShare > 0 && r.Float64() < w.AbortShare {
		q.aborted = true
		q.size *= r.Float64()
	}
	q.size = max(q.size, 1)
	return q
}

// meanBytes estimates the bytes a request takes, by drawing n requests.
func (w *Workload) meanBytes(seed uint64, n int) float64 {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	s := newSampler(w, nil)
	sum := 0.0
	for range n {
		sum += s.draw(r).size
	}
	return sum / float64(n)
}

// rate returns the arrival rate at t (seconds from the start) for a mean
// rate of mean, with the daily cycle and the spike.
func (w *Workload) rate(mean, t float64) float64 {
	day := math.Mod(t, 86400) / 86400
	r := mean * (1 + w.DailySwing*math.Sin(2*math.Pi*(day-10.0/24)))
	if w.SpikeFor > 0 && t >= w.SpikeAt && t < w.SpikeAt+w.SpikeFor {
		r *= w.SpikeFactor
	}
	return r
}

// table draws a value in proportion to weights.
type table struct {
	values []string
	cum    []float64
}

func newTable(ws []Weighted) *table {
	t := &table{}
	sum := 0.0
	for _, w := range ws {
		sum += w.Weight
		t.values = append(t.values, w.Value)
		t.cum = append(t.cum, sum)
	}
	for i := range t.cum {
		t.cum[i] /= sum
	}
	return t
}

func (t *table) pick(u float64) string {
	for i, c := range t.cum {
		if u < c {
			return t.values[i]
		}
	}
	return t.values[len(t.values)-1]
}
