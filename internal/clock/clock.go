// Package clock times requests with one read of the monotonic clock at
// each end.
//
// time.Now reads two clocks (the wall clock and the monotonic one), and a
// request timed with it, counted by day and logged with a timestamp read
// it five times: each read is a vDSO call of some 25 to 50 ns on the
// virtual machines the dispatcher runs on, a few percent of a redirect.
// An Instant is one monotonic read. Its wall time is the wall clock read
// at an anchor, at most a second earlier, plus the monotonic time since:
// a step of the wall clock (NTP, a resumed VM) shows within a second,
// and the slew between the two clocks within a second is well under a
// millisecond.
package clock

import (
	"sync/atomic"
	"time"
)

// epoch is the origin of Instants; it carries a monotonic reading, so
// time.Since(epoch) reads the monotonic clock alone.
var epoch = time.Now()

// Instant is a point in time on the monotonic clock: nanoseconds since the
// process's epoch.
type Instant int64

// Now returns the current Instant.
func Now() Instant { return Instant(time.Since(epoch)) }

// Since returns the time elapsed since i.
func (i Instant) Since() time.Duration { return time.Duration(Now() - i) }

// Add returns i moved by d.
func (i Instant) Add(d time.Duration) Instant { return i + Instant(d) }

// reanchor is how long an anchor serves: an Instant further from it than
// this reads the wall clock again.
const reanchor = time.Second

// anchor is a wall-clock reading and the Instant it was read at.
type anchor struct {
	at   Instant
	wall time.Time
}

var last atomic.Pointer[anchor]

// Wall returns the wall-clock time of i, as time.Now would have returned
// it at i (within the slew of a second).
func (i Instant) Wall() time.Time { return wallOf(i, &last, readClocks) }

// readClocks reads the wall clock, and the Instant it was read at.
func readClocks() (Instant, time.Time) {
	w := time.Now()
	return Instant(w.Sub(epoch)), w
}

// wallOf is Wall with the anchor held in a and the clocks read by read.
func wallOf(i Instant, a *atomic.Pointer[anchor], read func() (Instant, time.Time)) time.Time {
	an := a.Load()
	if an == nil || distance(i, an.at) >= reanchor {
		at, w := read()
		an = &anchor{at: at, wall: w}
		a.Store(an)
	}
	return an.wall.Add(time.Duration(i - an.at))
}

// distance is how far apart two Instants are.
func distance(a, b Instant) time.Duration {
	if a < b {
		return time.Duration(b - a)
	}
	return time.Duration(a - b)
}
