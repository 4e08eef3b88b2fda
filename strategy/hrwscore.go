package strategy

import (
	"math"
	"math/bits"
)

// The scores of weighted rendezvous hashing (rendezvous.go), and how
// candidates are compared and the best few kept.

// hrwScore is the weighted rendezvous score of weight w (given as its
// inverse) for the hash h of a key and a candidate: w / -ln(u), u = h
// mapped into (0, 1), ordered as -(-ln(u) / w), which needs no division.
// The chance that a candidate has the highest score is its weight over
// the total.
func hrwScore(h uint64, invW float64) float64 {
	return -float64(negLnUnit(h) * invW)
}

// negLnUnit returns -ln(u) for u = (h|1) / 2^64 in (0, 1): with h|1 =
// 2^(63-z)·m, m in [1, 2), ln(u) = ln(m) - (z+1)·ln 2, and ln(m) is
// read from lnTable at m's first 10 bits after the point, interpolated
// over the next 32 (to about 1e-7). It costs a fraction of math.Log.
// Each product is converted explicitly so that no compiler fuses a
// multiply-add (the Go spec allows it): every architecture computes the
// same bits, and every dispatcher the same pick.
func negLnUnit(h uint64) float64 {
	x := h | 1
	z := bits.LeadingZeros64(x)
	n := x << z
	i := n >> 53 & (lnTableSize - 1)
	f := float64(int64(n>>21&(1<<32-1))) * (1.0 / (1 << 32))
	lo := lnTable[i]
	ln := lo + float64((lnTable[i+1]-lo)*f)
	return float64(float64(z+1)*math.Ln2) - ln
}

// lnTableSize is the number of intervals lnTable splits [1, 2) into.
const lnTableSize = 1024

// lnTable holds ln(1 + i/lnTableSize) for i = 0..lnTableSize, computed
// by lnSeries rather than math.Log, whose last bit differs between the
// architectures that have an assembly version and those that do not.
var lnTable = func() (t [lnTableSize + 1]float64) {
	for i := range t {
		t[i] = lnSeries(1 + float64(i)/lnTableSize)
	}
	return t
}()

// lnSeries returns ln(m) for m in [1, 2], to about 1e-12: ln(m) =
// e·ln 2 + 2·atanh(t), with m scaled by e into [√½, √2) and
// t = (m-1)/(m+1) in ±0.172, by atanh's series to t¹³.
func lnSeries(m float64) float64 {
	e := 0.0
	if m > math.Sqrt2 {
		m *= 0.5
		e = 1
	}
	t := (m - 1) / (m + 1)
	t2 := float64(t * t)
	series := 1.0 / 13
	for _, c := range [...]float64{1.0 / 11, 1.0 / 9, 1.0 / 7, 1.0 / 5, 1.0 / 3, 1} {
		series = c + float64(t2*series)
	}
	return float64(e*math.Ln2) + float64(2*t*series)
}

// hrwBound is an upper bound of hrwScore(h, invW) that needs no
// logarithm, from -ln(u) >= 1-u (kept a hair above the bound against
// rounding). Most candidates of a pick fall below the best score
// seen so far by it, and are passed over without their logarithm: the
// pick is the same, at a fraction of the cost.
func hrwBound(h uint64, invW float64) float64 {
	// 1-u >= (^h >> 11) / 2^53; a signed conversion is one instruction.
	return -float64(float64(float64(int64(^h>>11))*(0x1p-53*(1-1e-9))) * invW)
}

// topN keeps the n (<= maxTopOrder) best candidates it is given, best
// first.
type topN struct {
	c       [maxTopOrder]scored
	have, n int
}

// admits reports whether a candidate whose score is at most bound could
// be among the best n.
func (t *topN) admits(bound float64) bool {
	return t.have < t.n || bound >= t.c[t.have-1].score
}

// add offers c.
func (t *topN) add(c scored) {
	if t.have == t.n && !c.before(t.c[t.have-1]) {
		return
	}
	x := min(t.have, t.n-1)
	for x > 0 && c.before(t.c[x-1]) {
		t.c[x] = t.c[x-1]
		x--
	}
	t.c[x] = c
	t.have = min(t.have+1, t.n)
}

// best returns the candidates kept, best first.
func (t *topN) best() []scored { return t.c[:t.have] }

// scored is a candidate and its score.
type scored struct {
	at    int
	score float64
}

// before reports whether a ranks before b: higher score, then lower at.
func (a scored) before(b scored) bool {
	return a.score > b.score || a.score == b.score && a.at < b.at
}
