package strategy

import (
	"context"
	"net/netip"
)

// IPHash keeps a client on one mirror with weighted rendezvous (highest
// random weight) hashing of its address, masked to the pool's prefix
// (/32 and /64 by default), in two levels (see rendezvous): a pick costs
// about 32 + mirrors/32 scores. Adding or removing one mirror moves its clients and fewer
// than as many others, and because the hash is FNV-1a with a fixed mixer
// (not hash/maphash), every dispatcher process agrees on the pick.
type IPHash struct{}

// Pick implements Strategy: the first of the client's order (hashOrder).
func (*IPHash) Pick(_ context.Context, p *Pool, c Client) (*Mirror, error) {
	var buf [1]int
	if _, first := p.hashOrder(&c, p.clientKey(c.IP), buf[:0], 1); first >= 0 {
		return &p.Mirrors[first], nil
	}
	return nil, ErrNoMirror
}

// Rank implements Ranker: the client's order (hashOrder), whose first is
// the pick.
func (*IPHash) Rank(p *Pool, c Client, dst []int, limit int) []int {
	dst, _ = p.hashOrder(&c, p.clientKey(c.IP), dst, limit)
	return dst
}

// pickRank is Pick and Rank in one pass over the client's groups.
func (*IPHash) pickRank(_ context.Context, p *Pool, c Client, dst []int, limit int) (*Mirror, []int, error) {
	dst, first := p.hashOrder(&c, p.clientKey(c.IP), dst, limit)
	if first < 0 {
		return nil, dst, ErrNoMirror
	}
	return &p.Mirrors[first], dst, nil
}

// hashOrder appends to dst[:0] at most limit (<= 0: all) of the usable
// mirrors in client c's order (key: its address's hash), and returns c's
// pick, the first of them (an index into p.Mirrors; -1 when none is
// usable). The order is c's set's (https, IPv6) by rendezvous score: the
// members of c's group first, then the next group's; then the mirrors
// outside c's set, by weight.
//
// Under c.Only the order is that of the holders' own pool: the same
// groups, each weighing what its holders weigh. A mirror that lacks the
// file is, for that file, a mirror that left: its clients move, and
// about as many others from its group (fewer than twice its share, the
// bound TestIPHashDisruption holds a leaving mirror to), and the holders
// get the clients in proportion to their weights. It costs one pass
// over the holders' pool, the same as a pick without files. When the
// pool of the holders is not cached, a pass over the groups weighs them
// (pickAllowed) for the same pick, and the rest is c's order among the
// holders.
func (p *Pool) hashOrder(c *Client, key uint64, dst []int, limit int) ([]int, int) {
	if c.Only != nil {
		return p.hashOrderOnly(c, key, dst[:0], limit)
	}
	return p.hashOrderAll(c, key, dst[:0], limit)
}

// hashOrderAll is hashOrder without c.Only.
func (p *Pool) hashOrderAll(c *Client, key uint64, dst []int, limit int) ([]int, int) {
	s := p.set(c)
	if len(s.idx) == 0 {
		return dst, -1
	}
	dst, own := p.rendezvousOf(s).order(key, dst, limit, nil)
	return p.hashOrderRest(c, s, dst, own, limit)
}

// hashOrderOnly is hashOrder under c.Only.
func (p *Pool) hashOrderOnly(c *Client, key uint64, dst []int, limit int) ([]int, int) {
	if rp := p.holders(c); rp != nil {
		cl := *c
		cl.Only = nil
		dst, first := rp.pool.hashOrderAll(&cl, key, dst, limit)
		for n, i := range dst {
			dst[n] = rp.parent[i]
		}
		if first < 0 {
			return dst, -1
		}
		return dst, rp.parent[first]
	}
	s := p.onlySet(c)
	if s == nil {
		return dst, -1
	}
	r := p.rendezvousOf(s)
	own := r.pickAllowed(key, s.idx, c.Only)
	dst = append(dst, own)
	if limit != 1 {
		dst, _ = r.order(key, dst, limit, &filter{only: c.Only, idx: s.idx, not: own})
	}
	return p.hashOrderRest(c, s, dst, own, limit)
}

// hashOrderRest maps dst and own, positions in s.idx, to the pool's
// mirrors, and appends the allowed mirrors outside s by weight when dst
// has room for them.
func (p *Pool) hashOrderRest(c *Client, s *set, dst []int, own, limit int) ([]int, int) {
	for n, k := range dst {
		dst[n] = s.idx[k]
	}
	if limit > 0 && len(dst) >= limit || s == p.sets[0] {
		return dst, s.idx[own]
	}
	// The mirrors outside the client's set, by weight: ranked lists the
	// set's own first.
	return appendAllowed(dst, p.ranked[setIndex(c)][len(s.idx):], c.Only, limit), s.idx[own]
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
	_ Strategy   = (*Random)(nil)
	_ Strategy   = (*RoundRobin)(nil)
	_ Strategy   = (*IPHash)(nil)
	_ Ranker     = (*IPHash)(nil)
	_ pickRanker = (*IPHash)(nil)
	_ pickRanker = (*Random)(nil)
	_ pickRanker = (*Geo)(nil)
)
