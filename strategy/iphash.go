package strategy

import (
	"context"
	"math"
	"net/netip"
	"slices"
)

// IPHash keeps a client on one mirror with weighted rendezvous (highest
// random weight) hashing of its address, masked to the pool's prefix
// (/32 and /64 by default). Adding or removing one mirror moves only the
// clients of that mirror, and because the hash is FNV-1a with a fixed mixer
// (not hash/maphash), every dispatcher process agrees on the pick.
type IPHash struct{}

// Pick implements Strategy.
func (*IPHash) Pick(_ context.Context, p *Pool, c Client) (*Mirror, error) {
	s := p.set(&c)
	if c.Only != nil {
		s = p.onlySet(&c)
		if s == nil {
			return nil, ErrNoMirror
		}
	}
	if len(s.idx) == 0 {
		return nil, ErrNoMirror
	}
	key := p.clientKey(c.IP)
	best, bestScore := 0, math.Inf(-1)
	for k, i := range s.idx {
		if !allowed(c.Only, i) {
			continue // HRW over the holders: only a missing mirror's clients move
		}
		if sc := s.score(k, p.seeds[i], key); sc > bestScore {
			best, bestScore = k, sc
		}
	}
	return &p.Mirrors[s.idx[best]], nil
}

// Rank orders the usable mirrors by this client's rendezvous scores: the
// order in which the client would fail over.
func (*IPHash) Rank(p *Pool, c Client, dst []int, limit int) []int {
	key := p.clientKey(c.IP)
	s := p.set(&c)
	type scored struct {
		i     int
		score float64
	}
	all := make([]scored, 0, len(p.ranked[0]))
	for k, i := range s.idx {
		all = append(all, scored{i, s.score(k, p.seeds[i], key)})
	}
	slices.SortFunc(all, func(a, b scored) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return a.i - b.i
	})
	order := make([]int, 0, len(p.ranked[0]))
	seen := make([]bool, len(p.Mirrors))
	for _, x := range all {
		order = append(order, x.i)
		seen[x.i] = true
	}
	for _, i := range p.ranked[setIndex(&c)] {
		if !seen[i] {
			order = append(order, i)
		}
	}
	return appendLimited(dst[:0], order, limit)
}

// score is mirror k's rendezvous score for key: the hash itself when all
// weights are equal, else w / -ln(u) with u the hash mapped into (0, 1),
// which makes the probability of winning proportional to w.
func (s *set) score(k int, seed, key uint64) float64 {
	h := mix(seed ^ key)
	if s.equal {
		return float64(h >> 11)
	}
	u := (float64(h>>11) + 0.5) / (1 << 53)
	return s.w[k] / -math.Log(u)
}

// clientKey hashes the client address masked to the pool's prefix.
func (p *Pool) clientKey(ip netip.Addr) uint64 {
	ip = ip.Unmap()
	bits := p.v6bits
	if ip.Is4() {
		bits = p.v4bits
	}
	if pfx, err := ip.Prefix(bits); err == nil {
		ip = pfx.Addr()
	}
	h := uint64(fnvOffset)
	if ip.Is4() {
		a := ip.As4()
		h = fnvBytes(h, a[:])
	} else {
		a := ip.As16()
		h = fnvBytes(h, a[:])
	}
	return mix(h)
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

func hashString(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return mix(h)
}

// mix is the splitmix64 finaliser: FNV alone spreads short keys poorly.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Interface guards.
var (
	_ Strategy = (*Random)(nil)
	_ Strategy = (*RoundRobin)(nil)
	_ Strategy = (*IPHash)(nil)
	_ Ranker   = (*IPHash)(nil)
)
