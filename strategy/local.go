package strategy

import (
	"net/netip"
	"slices"
)

// The network and AS tiers of geo. A client is local to a mirror whose
// networks hold its address, or whose ASNs hold its AS. What a client's
// tiers are depends on its country (or cell) and on which networks and
// ASNs it is local to: localKey is the second part, found with one map
// lookup per distinct prefix length and one for the AS, so that geo's
// tiers stay cached per key.

// localIndex is a pool's networks and ASNs, for localOf.
type localIndex struct {
	prefixes       map[netip.Prefix]struct{}
	v4bits, v6bits []int // the prefix lengths in use, longest first
	asns           map[uint32]struct{}
}

// localKey says which mirrors a client is local to: the most specific of
// the pool's networks that holds its address (all clients of one such
// prefix are in the same networks, since prefixes nest or are apart),
// and its AS when a mirror lists it.
type localKey struct {
	net netip.Prefix
	asn uint32
}

// buildLocal indexes the pool's networks and ASNs (nil when none has any).
func (p *Pool) buildLocal() {
	var l localIndex
	for i := range p.Mirrors {
		m := &p.Mirrors[i]
		for _, n := range m.Networks {
			if l.prefixes == nil {
				l.prefixes = make(map[netip.Prefix]struct{})
			}
			l.prefixes[n] = struct{}{}
			if n.Addr().Is4() {
				l.v4bits = append(l.v4bits, n.Bits())
			} else {
				l.v6bits = append(l.v6bits, n.Bits())
			}
		}
		for _, a := range m.ASNs {
			if l.asns == nil {
				l.asns = make(map[uint32]struct{})
			}
			l.asns[a] = struct{}{}
		}
	}
	if l.prefixes == nil && l.asns == nil {
		return
	}
	for _, bits := range []*[]int{&l.v4bits, &l.v6bits} {
		slices.Sort(*bits)
		*bits = slices.Compact(*bits)
		slices.Reverse(*bits)
	}
	p.local = &l
}

// localOf returns what c is local to in p (the zero key: nothing).
func (p *Pool) localOf(c *Client) localKey {
	var k localKey
	l := p.local
	if l == nil {
		return k
	}
	if c.IP.IsValid() && l.prefixes != nil {
		bits := l.v6bits
		if c.IP.Is4() {
			bits = l.v4bits
		}
		for _, b := range bits {
			pfx, err := c.IP.Prefix(b)
			if err != nil {
				continue
			}
			if _, ok := l.prefixes[pfx]; ok {
				k.net = pfx
				break
			}
		}
	}
	if c.ASN != 0 {
		if _, ok := l.asns[c.ASN]; ok {
			k.asn = c.ASN
		}
	}
	return k
}

// isLocal reports whether k names anything.
func (k localKey) isLocal() bool { return k.net.IsValid() || k.asn != 0 }
