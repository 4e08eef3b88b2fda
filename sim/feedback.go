package sim

import (
	"cmp"
	"slices"

	"github.com/dispatcher/dispatcher/feedback"
)

// adoption is when one instance takes a published weight set.
type adoption struct {
	at       float64
	instance int
	weights  []float64
}

// poll reads every link's counter as an SNMP poll would, runs the law and
// publishes the new weights.
func (r *run) poll(t float64) {
	for i, l := range r.links {
		l.advance(t)
		r.pollers[i].Poll(feedback.Sample{OutOctets: uint64(l.sent), InOctets: 0, Bits: 64,
			SpeedBps: r.cfg.Mirrors[i].CapacityBps, Uptime: uint32(t * 100), At: at(t)}, nil, at(t))
	}
	if s := r.res.Series; s != nil {
		s.Times = append(s.Times, t)
		for i, l := range r.links {
			u := 0.0
			if dt := t - r.lastPoll; dt > 0 {
				u = (l.sent - r.lastSent[i]) / dt / l.capacity
			}
			s.Utilization[i] = append(s.Utilization[i], u)
			r.lastSent[i] = l.sent
		}
	}
	r.lastPoll = t
	r.publish(t, true)
}

// publish computes the effective weights with the law as the dispatcher
// does (feedback.Law.EffectiveWeights), records them, and schedules their
// adoption by the instances. The series get a point per poll.
func (r *run) publish(t float64, polled bool) {
	in := make([]feedback.WeightInput, len(r.cfg.Mirrors))
	for i, m := range r.cfg.Mirrors {
		in[i] = feedback.WeightInput{Weight: weightOf(m), Enabled: r.links[i].up}
		if r.cfg.Feedback {
			in[i].State, in[i].Watched = r.pollers[i].State(), true
		}
	}
	ws := r.cfg.Law.EffectiveWeights(in, at(t), 0)
	ratio := make([]float64, len(ws))
	share := make([]float64, len(ws))
	sum := 0.0
	for _, v := range ws {
		sum += v
	}
	for i, v := range ws {
		ratio[i] = v / weightOf(r.cfg.Mirrors[i])
		if sum > 0 {
			share[i] = v / sum
		}
	}
	r.shareTime = append(r.shareTime, t)
	r.shares = append(r.shares, share)
	r.ratios = append(r.ratios, ratio)
	if s := r.res.Series; s != nil && polled {
		for i := range ws {
			s.Weight[i] = append(s.Weight[i], ratio[i])
		}
	}
	lag := r.cfg.Lag.Seconds()
	for i := range r.pools {
		if i == 0 || lag == 0 {
			r.pools[i] = r.pool(ws)
			continue
		}
		r.adopt = append(r.adopt, adoption{at: t + lag*float64(i)/float64(len(r.pools)), instance: i, weights: ws})
	}
	// A change publishes between polls, so its adoptions may come before
	// some of the last poll's: keep the queue in time order.
	slices.SortStableFunc(r.adopt, func(a, b adoption) int { return cmp.Compare(a.at, b.at) })
}
