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
	r := p.rendezvousOf(s)
	k := r.pick(key)
	if c.Only != nil && !allowed(c.Only, s.idx[k]) {
		// Only the clients of a mirror that lacks the file move: to
		// their pick among the holders (onlySet made sure there is one),
		// in the holders' own pool when it is cached: the same groups
		// and weights, without a pass over the pool.
		if rp := p.restrict(c.Only); rp != nil {
			cl := c
			cl.Only = nil
			if rs := rp.pool.set(&cl); len(rs.idx) > 0 {
				return &p.Mirrors[rp.parent[rs.idx[rp.pool.rendezvousOf(rs).pick(key)]]], nil
			}
		}
		k = r.pickAllowed(key, s.idx, c.Only)
	}
	return &p.Mirrors[s.idx[k]], nil
}

// Rank orders the usable mirrors by this client's rendezvous scores, the
// order in which the client would fail over (its group's members first),
// then the mirrors outside the client's set; under c.Only the allowed
// ones. Pools of up to about 14,000 mirrors allocate nothing.
func (*IPHash) Rank(p *Pool, c Client, dst []int, limit int) []int {
	key := p.clientKey(c.IP)
	s := p.set(&c)
	var allow func(k int) bool
	if c.Only != nil {
		allow = func(k int) bool { return allowed(c.Only, s.idx[k]) }
	}
	dst = p.rendezvousOf(s).order(key, dst[:0], limit, allow)
	for n, k := range dst {
		dst[n] = s.idx[k]
	}
	if limit > 0 && len(dst) >= limit {
		return dst
	}
	// The mirrors outside the client's set, by weight: ranked lists the
	// set's own first.
	return appendAllowed(dst, p.ranked[setIndex(&c)][len(s.idx):], c.Only, limit)
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
