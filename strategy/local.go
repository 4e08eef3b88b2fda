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

// localIndex is a pool's networks and ASNs, for localOf. The networks
// are numbered (from 1) and kept in maps keyed by a compact form of the
// prefix, so that a lookup hashes 8 or 17 bytes rather than a
// netip.Prefix.
type localIndex struct {
	v4             map[uint64]int32   // address<<8 | bits → number
	v6             map[[17]byte]int32 // address, bits → number
	v4bits, v6bits []int              // the prefix lengths in use, longest first
	asns           map[uint32]struct{}
}

// localKey says which mirrors a client is local to: the most specific of
// the pool's networks that holds its address, by number (0: none; all
// clients of one such prefix are in the same networks, since prefixes
// nest or are apart), and its AS when a mirror lists it.
type localKey struct {
	net int32
	asn uint32
}

// v4Key is the compact form of the /bits prefix of a (a 32-bit address).
func v4Key(a uint32, bits int) uint64 {
	if bits < 32 {
		a &^= 1<<(32-bits) - 1
	}
	return uint64(a)<<8 | uint64(bits)
}

// v6Key is the compact form of the /bits prefix of a.
func v6Key(a [16]byte, bits int) [17]byte {
	var k [17]byte
	full := bits / 8
	copy(k[:full], a[:full])
	if rest := bits % 8; rest > 0 {
		k[full] = a[full] &^ (0xff >> rest)
	}
	k[16] = byte(bits)
	return k
}

// buildLocal indexes the pool's networks and ASNs (nil when none has any).
func (p *Pool) buildLocal() {
	var l localIndex
	next := int32(1)
	for i := range p.Mirrors {
		m := &p.Mirrors[i]
		for _, n := range m.Networks {
			a := n.Addr()
			if a.Is4() {
				if l.v4 == nil {
					l.v4 = make(map[uint64]int32)
				}
				k := v4Key(ipv4Uint(a), n.Bits())
				if _, ok := l.v4[k]; !ok {
					l.v4[k], next = next, next+1
					l.v4bits = append(l.v4bits, n.Bits())
				}
				continue
			}
			if l.v6 == nil {
				l.v6 = make(map[[17]byte]int32)
			}
			k := v6Key(a.As16(), n.Bits())
			if _, ok := l.v6[k]; !ok {
				l.v6[k], next = next, next+1
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
	if l.v4 == nil && l.v6 == nil && l.asns == nil {
		return
	}
	for _, bits := range []*[]int{&l.v4bits, &l.v6bits} {
		slices.Sort(*bits)
		*bits = slices.Compact(*bits)
		slices.Reverse(*bits)
	}
	p.local = &l
}

// ipv4Uint is an IPv4 address as a number.
func ipv4Uint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// localOf returns what c is local to in p (the zero key: nothing), and
// keeps it in c for the next look-up in the same index.
func (p *Pool) localOf(c *Client) localKey {
	l := p.local
	if l == nil {
		return localKey{}
	}
	if in := (localInput{c.IP, c.ASN}); c.localIn != l || c.localFor != in {
		c.local, c.localIn, c.localFor = l.keyOf(c), l, in
	}
	return c.local
}

// localInput is what of a client localOf reads.
type localInput struct {
	ip  netip.Addr
	asn uint32
}

// keyOf looks up what c is local to in l.
func (l *localIndex) keyOf(c *Client) localKey {
	var k localKey
	switch {
	case c.IP.Is4() && l.v4 != nil:
		a := ipv4Uint(c.IP)
		for _, b := range l.v4bits {
			if n, ok := l.v4[v4Key(a, b)]; ok {
				k.net = n
				break
			}
		}
	case c.IP.Is6() && l.v6 != nil:
		a := c.IP.As16()
		for _, b := range l.v6bits {
			if n, ok := l.v6[v6Key(a, b)]; ok {
				k.net = n
				break
			}
		}
	}
	if c.ASN != 0 && l.asns != nil {
		if _, ok := l.asns[c.ASN]; ok {
			k.asn = c.ASN
		}
	}
	return k
}

// isLocal reports whether k names anything.
func (k localKey) isLocal() bool { return k.net != 0 || k.asn != 0 }
