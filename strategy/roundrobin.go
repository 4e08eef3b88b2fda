package strategy

import (
	"context"
	"math"
	"math/bits"
	"sync/atomic"
)

// Sequence hands out the positions of one pool's round-robin sequence:
// 1, 2, 3 … Every dispatcher sharing a Sequence follows one cycle.
// Implementations are safe for concurrent use and must not fail: a shared
// sequence that cannot reach its store falls back to a local one.
type Sequence interface {
	Next(ctx context.Context) uint64
}

// LocalSequence is an in-process Sequence. The zero value starts at 1.
type LocalSequence struct{ n atomic.Uint64 }

// Next implements Sequence.
func (s *LocalSequence) Next(context.Context) uint64 { return s.n.Add(1) }

// Set makes the next value v+1.
func (s *LocalSequence) Set(v uint64) { s.n.Store(v) }

// RoundRobin is weighted round robin over a pool's usable mirrors,
// positioned by the pool's Sequence: the mirror a position gets is a pure
// function of the position and the weights, so every dispatcher sharing
// the sequence follows one cycle. Any cycle-length run of consecutive
// positions visits each mirror exactly its (integer) weight times, and a
// mirror's visits are spread evenly over the cycle (see cycle).
type RoundRobin struct{}

// Pick implements Strategy.
func (rr *RoundRobin) Pick(ctx context.Context, p *Pool, c Client) (*Mirror, error) {
	return rr.pick(ctx, p, &c, nil)
}

// pickRank implements pickRanker: among a file's holders, their pool is
// looked up once, for the pick's draw and for the order.
func (rr *RoundRobin) pickRank(ctx context.Context, p *Pool, c Client, dst []int, limit int) (*Mirror, []int, error) {
	var rp *restricted
	if c.Only != nil {
		rp = p.holders(&c)
	}
	m, err := rr.pick(ctx, p, &c, rp)
	if err != nil {
		return nil, dst[:0], err
	}
	if rp != nil {
		return m, rp.rank(c, dst, limit), nil
	}
	return m, Rank(p, c, dst, limit), nil
}

// pick is Pick with the pool of c's holders when it is known (nil: looked
// up if needed).
func (*RoundRobin) pick(ctx context.Context, p *Pool, c *Client, rp *restricted) (*Mirror, error) {
	s := p.set(c)
	if len(s.idx) == 0 {
		return nil, ErrNoMirror
	}
	n := p.Seq.Next(ctx) - 1
	if c.Only != nil {
		return p.roundRobinOnly(c, n, rp)
	}
	if s.cycle == nil {
		return &p.Mirrors[s.idx[n%uint64(len(s.idx))]], nil
	}
	return &p.Mirrors[s.idx[s.cycle.at(n)]], nil
}

// roundRobinOnly is round robin among the allowed mirrors: a position
// whose mirror is allowed keeps it, and the positions of the others go to
// the allowed mirrors by a weighted draw seeded by the position, so that
// every allowed mirror keeps a share in proportion to its weight. rp is
// the pool of the allowed mirrors when the caller has it (nil: looked up
// here, if needed).
func (p *Pool) roundRobinOnly(c *Client, n uint64, rp *restricted) (*Mirror, error) {
	s := p.onlySet(c)
	if s == nil {
		return nil, ErrNoMirror
	}
	k := int(n % uint64(len(s.idx)))
	if s.cycle != nil {
		k = s.cycle.at(n)
	}
	if allowed(c.Only, s.idx[k]) {
		return &p.Mirrors[s.idx[k]], nil
	}
	if rp == nil {
		rp = p.holders(c)
	}
	if rp != nil {
		// The holders' own pool draws in constant time.
		cl := *c
		cl.Only = nil
		if rs := rp.pool.set(&cl); len(rs.idx) > 0 {
			return &p.Mirrors[rp.parent[rs.idx[rs.weighted(mix(n))]]], nil
		}
	}
	return &p.Mirrors[s.idx[s.weightedOnly(c.Only, unit(mix(n)))]], nil
}

// cycle schedules unequal integer weights w over positions 0, 1, 2 …
// without a table: position n is first spread over the cycle by a
// multiplicative permutation, t = n·step mod total, with step coprime to
// total and close to total/φ (a golden-ratio Weyl sequence); t then falls
// in mirror k's slice of the prefix sums of w. The permutation is a
// bijection of [0, total), so each cycle of total positions gives mirror k
// exactly w[k] positions; by the three-distance theorem the positions of
// one mirror are spread with at most three distinct gaps.
//
// The slice t falls in is found from an index of t's high bits: start[b]
// is the first mirror whose slice reaches past b<<shift, with about one
// bucket per mirror, so the search is among the few mirrors of one bucket
// (a binary search, for a bucket that holds many light mirrors) rather
// than among all: at 10,000 mirrors, two or three cache lines instead of
// the fourteen of a search over cum.
//
// Building costs O(len(w)); at costs two multiplications, two remainders,
// a shift and a search within one bucket, with no allocation.
type cycle struct {
	cum   []uint64 // cum[k] = w[0] + … + w[k]
	total uint64   // cum[len-1], at most maxCycle
	step  uint64
	shift uint     // a bucket is 1<<shift positions of t
	start []uint32 // start[b]: the first k with cum[k] > b<<shift; the last entry is len(cum)-1
}

// maxCycle bounds a cycle's length so that n·step fits in 64 bits.
const maxCycle = 1 << 32

// weightResolution is the finest share of the largest weight that
// fractional weights keep: smaller weights become 1/weightResolution of it.
const weightResolution = 1 << 16

func newCycle(w []float64) *cycle {
	iw := integerWeights(w)
	c := &cycle{cum: make([]uint64, len(iw))}
	for k, x := range iw {
		c.total += uint64(x)
		c.cum[k] = c.total
	}
	c.step = evenStep(c.total)
	c.buildStart()
	return c
}

// buildStart fills c.start, with between half a bucket and two per mirror.
func (c *cycle) buildStart() {
	c.shift = uint(max(0, bits.Len64(c.total-1)-bits.Len(uint(len(c.cum)))))
	buckets := int((c.total-1)>>c.shift) + 1
	c.start = make([]uint32, buckets+1)
	k := 0
	for b := range buckets {
		for c.cum[k] <= uint64(b)<<c.shift {
			k++
		}
		c.start[b] = uint32(k)
	}
	c.start[buckets] = uint32(len(c.cum) - 1)
}

// at returns the index into w of position n.
func (c *cycle) at(n uint64) int {
	t := n % c.total * c.step % c.total
	// The answer, the first k with cum[k] > t, is at least the first of
	// t's bucket and at most the first of the next one: the search below
	// returns hi when no k before it will do.
	b := t >> c.shift
	lo, hi := int(c.start[b]), int(c.start[b+1])
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c.cum[m] > t {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// evenStep returns a step coprime with total whose ratio step/total has
// small partial quotients in its continued fraction, searched from
// total/φ outwards (φ's quotients are all 1). Small quotients are what keep
// every mirror's gaps even, down to the lightest mirror's; Zaremba's
// conjecture, checked far beyond any cycle here, says quotients of at most
// 5 exist for every total. The search stops at the first step whose
// quotients are at most 3, or after maxStepTries candidates with the best.
func evenStep(total uint64) uint64 {
	if total <= 2 {
		return 1
	}
	x := uint64(math.Round(float64(total) / math.Phi))
	best, bestQ := uint64(1), uint64(math.MaxUint64)
	for d := uint64(0); d < maxStepTries; d++ {
		for _, k := range [2]uint64{x + d, x - d} {
			if k == 0 || k >= total {
				continue
			}
			if q := maxQuotient(k, total); q < bestQ {
				best, bestQ = k, q
				if q <= 3 {
					return best
				}
			}
		}
	}
	return best
}

// maxStepTries bounds evenStep's search.
const maxStepTries = 4096

// maxQuotient returns the largest partial quotient of the continued
// fraction of k/total after the first, or MaxUint64 when k and total are
// not coprime.
func maxQuotient(k, total uint64) uint64 {
	a, b := total, k
	var q uint64
	for b != 0 {
		q = max(q, a/b)
		a, b = b, a%b
	}
	if a != 1 {
		return math.MaxUint64
	}
	return q
}

// integerWeights turns effective weights into positive integers with the
// same proportions: integers as they are (divided by their greatest common
// divisor), fractions to a resolution of 1/weightResolution of the largest,
// and never more than maxCycle in all.
func integerWeights(w []float64) []uint64 {
	out := make([]uint64, len(w))
	integral := true
	var sum, largest float64
	for _, x := range w {
		sum += x
		largest = max(largest, x)
		if x != math.Trunc(x) {
			integral = false
		}
	}
	scale := 1.0
	if !integral || sum > maxCycle {
		scale = weightResolution / largest
		if sum*scale > maxCycle/2 {
			scale = maxCycle / 2 / sum
		}
	}
	var g uint64
	for i, x := range w {
		out[i] = max(1, uint64(math.Round(x*scale)))
		g = gcd(g, out[i])
	}
	for i := range out {
		out[i] /= g
	}
	return out
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
