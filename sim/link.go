package sim

import "math"

// clientMbps are the client bandwidth classes: a download is limited by
// its class's rate and by its fair share of the mirror's link.
var clientMbps = [...]float64{2, 5, 10, 20, 50, 100, 250, 1000}

const classes = len(clientMbps)

// download is one transfer in progress: it finishes when its class's
// virtual clock reaches finish.
type download struct {
	finish  float64 // virtual bytes of its class at which it is done
	start   float32 // seconds (to 8 ms in a day: 16 bytes a download)
	aborted bool    // the client gives up at finish (its size is what it took)
	measure bool    // started inside the measured window
}

// downloads is a 4-ary min-heap of downloads by finish: shallower than a
// binary heap, and a parent's four children share a cache line or two.
type downloads []download

func (h *downloads) push(d download) {
	*h = append(*h, d)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 4
		if s[p].finish <= s[i].finish {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *downloads) pop() download {
	s := *h
	top := s[0]
	n := len(s) - 1
	last := s[n]
	s = s[:n]
	if n > 0 {
		i := 0
		for {
			c := 4*i + 1
			if c >= n {
				break
			}
			small := c
			for j := c + 1; j < c+4 && j < n; j++ {
				if s[j].finish < s[small].finish {
					small = j
				}
			}
			if last.finish <= s[small].finish {
				break
			}
			s[i] = s[small]
			i = small
		}
		s[i] = last
	}
	*h = s
	return top
}

// link is a mirror's uplink shared by its downloads: max-min fair with
// each download capped by its client's class (water filling), so every
// download of one class gets the same rate, and a virtual clock per class
// (the bytes each of its downloads received) orders their completions. An
// arrival or a completion costs O(log n), whatever the number of downloads.
type link struct {
	capacity float64 // bytes per second
	up       bool
	queues   [classes]downloads
	virtual  [classes]float64 // bytes served to each download of the class
	rate     [classes]float64 // bytes per second per download, now
	last     float64          // time the clocks were advanced to
	sent     float64          // bytes sent since the start
	total    float64          // bytes per second, now
	next     float64          // time of the next completion (+Inf: none)
	nextK    int              // the class it is in
	nextAt   [classes]float64 // per class, the time its first download is done
	n        int              // downloads in progress
	capped   bool             // the link is full: rates are below the classes'
	demand   float64          // bytes per second they would take uncapped by the link
}

// classBytes are the classes' rates in bytes per second.
var classBytes = func() (b [classes]float64) {
	for k, mbps := range clientMbps {
		b[k] = mbps * 1e6 / 8
	}
	return b
}()

func newLink(capacityBps float64) *link {
	l := &link{capacity: capacityBps / 8, up: true, next: math.Inf(1), nextK: -1, rate: classBytes}
	for k := range l.nextAt {
		l.nextAt[k] = math.Inf(1)
	}
	return l
}

// advance moves the clocks to t.
func (l *link) advance(t float64) {
	dt := t - l.last
	if dt <= 0 {
		return
	}
	for k := range l.queues {
		if len(l.queues[k]) > 0 {
			l.virtual[k] += l.rate[k] * dt
		}
	}
	l.sent += l.total * dt
	l.last = t
}

// share recomputes the rates (water filling, classes by increasing cap)
// and the time of the next completion. Callers advanced the clocks to now.
// A link whose downloads all fit runs each at its class's rate.
func (l *link) share() {
	l.shareFrom(-1)
}

// shareFrom is share after a change in class changed only (-1: any). While
// the link is not full the rates stay the classes' own, and so do the
// completion times of the other classes.
func (l *link) shareFrom(changed int) {
	if l.demand <= l.capacity && !l.capped && changed >= 0 {
		l.total = l.demand
		before := l.nextAt[changed]
		l.nextAt[changed] = l.headAt(changed)
		switch {
		case l.nextAt[changed] <= l.next: // an arrival that is done first
			l.next, l.nextK = l.nextAt[changed], changed
		case changed == l.nextK || before == l.next:
			l.pickNext() // the first was taken, or pushed later
		}
		return
	}
	l.capped = l.demand > l.capacity
	if !l.capped {
		l.rate = classBytes
		l.total = l.demand
	} else {
		remaining, n := l.capacity, l.n
		l.total = 0
		for k := range l.queues {
			c := len(l.queues[k])
			if c == 0 {
				continue
			}
			r := min(classBytes[k], remaining/float64(n))
			l.rate[k] = r
			remaining -= r * float64(c)
			n -= c
			l.total += r * float64(c)
		}
	}
	for k := range l.queues {
		l.nextAt[k] = l.headAt(k)
	}
	l.pickNext()
}

// headAt is when class k's first download is done at the current rates.
func (l *link) headAt(k int) float64 {
	if q := l.queues[k]; len(q) > 0 {
		return l.last + (q[0].finish-l.virtual[k])/l.rate[k]
	}
	return math.Inf(1)
}

func (l *link) pickNext() {
	l.next, l.nextK = math.Inf(1), -1
	for k, t := range l.nextAt {
		if t < l.next {
			l.next, l.nextK = t, k
		}
	}
}

// active returns the number of downloads in progress.
func (l *link) active() int { return l.n }

// saturated reports whether the link sends at its capacity.
func (l *link) saturated() bool { return l.total >= 0.999*l.capacity }

// start begins a download of size bytes in class k at now.
func (l *link) start(now, size float64, k int, aborted, measure bool) {
	l.advance(now)
	l.queues[k].push(download{finish: l.virtual[k] + size, start: float32(now), aborted: aborted, measure: measure})
	l.n++
	l.demand += classBytes[k]
	l.shareFrom(k)
}

// complete ends the download due at now (l.next) and returns it.
func (l *link) complete(now float64) download {
	l.advance(now)
	k := l.nextK
	d := l.queues[k].pop()
	l.n--
	l.demand -= classBytes[k]
	if l.n == 0 {
		l.demand = 0 // no drift from the float sums
	}
	l.shareFrom(k)
	return d
}
