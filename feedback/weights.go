package feedback

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Sample is one reading of a mirror's interface counters.
type Sample struct {
	OutOctets, InOctets uint64
	// Bits is the width of the counters: 64 (ifHC*) or 32 (ifOut/InOctets).
	Bits int
	// SpeedBps is the interface's line speed (0 when unknown).
	SpeedBps float64
	// Uptime is sysUpTime in hundredths of a second (0 when unknown).
	Uptime uint32
	At     time.Time
}

// Reasons a pair of samples gives no rate. The mirror keeps its last
// weight; only the sample is discarded.
var (
	errRestart   = errors.New("agent restarted (sysUpTime went back); sample discarded")
	errBackwards = errors.New("64-bit counter went backwards (counter reset); sample discarded")
	errTooSoon   = errors.New("samples too close together")
)

// CounterDelta returns how much a counter grew from prev to cur. A 32-bit
// counter that went backwards wrapped once; a 64-bit one was reset (ok is
// false), since it cannot wrap in any realistic time.
func CounterDelta(prev, cur uint64, bits int) (delta uint64, ok bool) {
	if cur >= prev {
		return cur - prev, true
	}
	if bits == 32 && prev <= math.MaxUint32 && cur <= math.MaxUint32 {
		return cur + (1 << 32) - prev, true
	}
	return 0, false
}

// Rate returns the outbound and inbound bits per second between two samples
// of one interface, or why there is none.
func Rate(prev, cur Sample) (outBps, inBps float64, err error) {
	if prev.Uptime != 0 && cur.Uptime != 0 && cur.Uptime < prev.Uptime {
		return 0, 0, errRestart
	}
	dt := cur.At.Sub(prev.At).Seconds()
	if dt < 0.2 {
		return 0, 0, errTooSoon
	}
	bits := cur.Bits
	if prev.Bits != cur.Bits {
		return 0, 0, fmt.Errorf("counter width changed from %d to %d bits; sample discarded", prev.Bits, cur.Bits)
	}
	dOut, ok1 := CounterDelta(prev.OutOctets, cur.OutOctets, bits)
	dIn, ok2 := CounterDelta(prev.InOctets, cur.InOctets, bits)
	if !ok1 || !ok2 {
		return 0, 0, errBackwards
	}
	outBps, inBps = float64(dOut)*8/dt, float64(dIn)*8/dt
	// Allow 10% over line speed for timing jitter between agent and poller.
	if speed := cur.SpeedBps; speed > 0 && (outBps > speed*1.1 || inBps > speed*1.1) {
		return 0, 0, fmt.Errorf("rate %.0f bit/s is above line speed %.0f bit/s; sample discarded", max(outBps, inBps), speed)
	}
	return outBps, inBps, nil
}

// Law turns measured utilisation into a bandwidth headroom factor, the
// part of a mirror's effective weight that comes from SNMP.
//
// headroom = 1 − u, where u is outbound utilisation smoothed by an EWMA;
// at least Floor while u is below Saturated, and 0 at or above it, so that
// a saturated mirror takes no new clients while its pool has another.
// Three brakes keep the loop from oscillating, also when several
// dispatchers react to the same numbers (they do: one polls, all read):
//   - the EWMA (Alpha) averages a few polls, so one burst moves little;
//   - a dead band: changes smaller than DeadBand are not published, so
//     noise does not rebuild the pools at every poll;
//   - a bound on the change per poll (MaxStep), so a mirror that sheds
//     load does not get it all back at the next poll and overshoot.
//
// See docs/feedback.md for the reasoning and figures.
type Law struct {
	Alpha     float64
	Floor     float64
	Saturated float64
	DeadBand  float64
	MaxStep   float64
	// ByCapacity weighs a polled mirror's headroom by its link capacity
	// relative to its pool's largest (Factors.Capacity): the weight
	// follows spare bits per second, not the spare fraction of a link.
	ByCapacity bool
}

// DefaultLaw is the law the dispatcher uses.
var DefaultLaw = Law{Alpha: 0.5, Floor: 0.05, Saturated: 0.97, DeadBand: 0.02, MaxStep: 0.25, ByCapacity: true}

// Smooth folds a new utilisation reading into the average (the first
// reading is taken as it is).
func (l Law) Smooth(avg float64, have bool, u float64) float64 {
	u = min(max(u, 0), 1.5)
	if !have {
		return u
	}
	return avg + l.Alpha*(u-avg)
}

// Headroom returns the headroom to publish next, given the one published
// now and the smoothed utilisation.
func (l Law) Headroom(current, util float64) float64 {
	target := 1 - util
	if util >= l.Saturated {
		target = 0
	} else {
		target = max(target, l.Floor)
	}
	d := target - current
	if math.Abs(d) < l.DeadBand {
		return current
	}
	d = min(max(d, -l.MaxStep), l.MaxStep)
	return min(max(current+d, 0), 1)
}
