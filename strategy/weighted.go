package strategy

import (
	"context"
	"math"
	"math/rand/v2"
)

// Random picks a usable mirror at random, in proportion to its effective
// weight. The zero value is ready to use.
type Random struct {
	// rand returns a number in [0, 1); nil means math/rand/v2.Float64.
	// It is a seam for tests.
	rand func() float64
}

// Pick implements Strategy.
func (r *Random) Pick(_ context.Context, p *Pool, c Client) (*Mirror, error) {
	s := p.set(&c)
	if len(s.idx) == 0 {
		return nil, ErrNoMirror
	}
	return &p.Mirrors[s.idx[s.weighted(r.float())]], nil
}

func (r *Random) float() float64 {
	if r.rand != nil {
		return r.rand()
	}
	return rand.Float64()
}

// weighted maps u in [0, 1) to a position in s.idx with probability
// proportional to its weight: a binary search over the prefix sums (grpc
// internal/wrr), or a multiplication when all weights are equal.
func (s *set) weighted(u float64) int {
	n := len(s.idx)
	if s.equal {
		return min(int(u*float64(n)), n-1)
	}
	x := u * s.total
	lo, hi := 0, n-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s.cum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// maxSequence bounds the length of a round-robin sequence table.
const maxSequence = 1 << 20

// integerWeights turns effective weights into small positive integers with
// the same proportions: integers as they are (divided by their greatest
// common divisor), fractions to a resolution of 1/1000 of the largest.
func integerWeights(w []float64) []int64 {
	out := make([]int64, len(w))
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
	if !integral || sum > maxSequence {
		scale = 1000 / largest
		if sum*scale > maxSequence {
			scale = maxSequence / sum
		}
	}
	var g int64
	for i, x := range w {
		out[i] = max(1, int64(math.Round(x*scale)))
		g = gcd(g, out[i])
	}
	for i := range out {
		out[i] /= g
	}
	return out
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// smoothOrder returns one cycle of nginx's smooth weighted round robin over
// weights w: every step adds each weight to its current value, picks the
// largest (the first on ties) and takes the total off it. Weights {5,1,1}
// give 0 0 1 0 2 0 0. Each index i occurs exactly w[i] times in the cycle.
// It costs O(sum(w) × len(w)); integerWeights keeps sum(w) bounded.
func smoothOrder(w []int64) []int32 {
	var total int64
	for _, x := range w {
		total += x
	}
	cur := make([]int64, len(w))
	seq := make([]int32, total)
	for step := range seq {
		best := 0
		for i, x := range w {
			cur[i] += x
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		seq[step] = int32(best)
	}
	return seq
}
