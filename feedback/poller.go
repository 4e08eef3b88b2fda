package feedback

import "time"

// Poller is the poll rule of one mirror for a caller that takes the
// samples itself: cmd/simulate drives the law with it exactly as the
// monitor does (pollStep), without SNMP.
type Poller struct {
	law    Law
	capBps float64
	stale  time.Duration
	st     pollState
}

// NewPoller returns the rule of a mirror of capacity capBps (0: the
// sample's line speed), with the configured weight back after stale
// without a good sample (0: never).
func NewPoller(l Law, capBps float64, stale time.Duration) *Poller {
	return &Poller{law: l, capBps: capBps, stale: stale, st: pollState{headroom: 1}}
}

// Poll applies one poll's outcome at now: the sample s, or err.
func (p *Poller) Poll(s Sample, err error, now time.Time) {
	p.st, _ = p.law.pollStep(p.st, s, err, now, p.capBps, p.stale)
}

// State returns the mirror's state as the weights see it: polled, with its
// rates, utilisation and headroom.
func (p *Poller) State() MirrorState {
	s := MirrorState{Headroom: 1}
	p.st.fill(&s, p.capBps)
	return s
}
