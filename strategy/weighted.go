package strategy

import (
	"context"
	"math"
	"math/rand/v2"
)

// Random picks a usable mirror at random, in proportion to its effective
// weight. The zero value is ready to use.
type Random struct {
	// rand returns a uniform 64-bit number; nil means
	// math/rand/v2.Uint64. It is a seam for tests.
	rand func() uint64
}

// Pick implements Strategy.
func (r *Random) Pick(_ context.Context, p *Pool, c Client) (*Mirror, error) {
	if c.Only != nil {
		if rp := p.holders(&c); rp != nil {
			return rp.pick(context.Background(), p, r, c)
		}
		if s := p.onlySet(&c); s != nil {
			return &p.Mirrors[s.idx[s.weightedOnly(c.Only, unit(r.uint64()))]], nil
		}
		return nil, ErrNoMirror
	}
	s := p.set(&c)
	if len(s.idx) == 0 {
		return nil, ErrNoMirror
	}
	return &p.Mirrors[s.idx[s.weighted(r.uint64())]], nil
}

// pickRank implements pickRanker: among a file's holders, one look-up of
// their pool for the pick and the order.
func (r *Random) pickRank(ctx context.Context, p *Pool, c Client, dst []int, limit int) (*Mirror, []int, error) {
	return holdersPickRank(ctx, p, r, c, dst, limit)
}

func (r *Random) uint64() uint64 {
	if r.rand != nil {
		return r.rand()
	}
	return rand.Uint64()
}

// weighted maps a uniform 64-bit number to a position in s.idx with
// probability proportional to its weight, in constant time: Vose's alias
// method. The high bits choose a column, the low 32 bits toss its coin.
func (s *set) weighted(x uint64) int {
	n := uint64(len(s.idx))
	col := int((x >> 32) * n >> 32)
	if s.equal || uint32(x) < s.prob[col] {
		return col
	}
	return int(s.alias[col])
}

// buildAlias fills s.prob and s.alias from s.w (Vose, "A linear algorithm
// for generating random numbers with a given distribution", 1991).
func (s *set) buildAlias() {
	n := len(s.w)
	s.prob = make([]uint32, n)
	s.alias = make([]int32, n)
	scaled := make([]float64, n)
	var small, large []int
	for i, w := range s.w {
		scaled[i] = w * float64(n) / s.total
		if scaled[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		l, g := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		s.prob[l] = uint32(scaled[l] * (1 << 32))
		s.alias[l] = int32(g)
		scaled[g] -= 1 - scaled[l]
		if scaled[g] < 1 {
			large = large[:len(large)-1]
			small = append(small, g)
		}
	}
	// What is left has probability 1, up to rounding.
	for _, i := range append(small, large...) {
		s.prob[i] = math.MaxUint32
		s.alias[i] = int32(i)
	}
}
