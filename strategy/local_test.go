package strategy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// TestLocalOf compares localOf's compact prefix keys with
// netip.Prefix.Contains over prefixes of every length class, IPv4 and
// IPv6, and random addresses: it finds the most specific network that
// holds an address, or none.
func TestLocalOf(t *testing.T) {
	var nets []netip.Prefix
	for _, s := range []string{"0.0.0.0/0", "10.0.0.0/7", "10.1.0.0/16", "10.1.2.0/23", "10.1.2.3/32", "192.0.2.128/25",
		"2001:db8::/32", "2001:db8:1::/47", "2001:db8:1:2::/63", "2001:db8:1:2::5/128", "fc00::/7"} {
		nets = append(nets, netip.MustParsePrefix(s))
	}
	ms := make([]Mirror, len(nets))
	for i, n := range nets {
		ms[i] = Mirror{Name: n.String(), Weight: 1, Effective: 1, Networks: []netip.Prefix{n}}
	}
	p := NewPool(PoolSpec{Strategy: new(Geo), Mirrors: ms})
	// The network numbers are given in mirror order, from 1.
	r := rand.New(rand.NewPCG(1, 2))
	addrs := []netip.Addr{ip("10.1.2.3"), ip("10.1.3.255"), ip("10.0.0.1"), ip("11.255.0.1"), ip("192.0.2.200"), ip("192.0.2.1"),
		ip("2001:db8:1:2::5"), ip("2001:db8:1:3::1"), ip("2001:db8:0:1::1"), ip("fd00::1"), ip("2002::1")}
	for range 2000 {
		var b [16]byte
		for k := range b {
			b[k] = byte(r.IntN(256))
		}
		if r.IntN(2) == 0 {
			addrs = append(addrs, netip.AddrFrom4([4]byte{10, 1, b[0] % 4, b[1]}))
		} else {
			b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
			b[4], b[5] = 0, byte(r.IntN(3))
			addrs = append(addrs, netip.AddrFrom16(b))
		}
	}
	for _, a := range addrs {
		want, bits := int32(0), -1
		for i, n := range nets {
			if n.Contains(a) && n.Bits() > bits {
				want, bits = int32(i+1), n.Bits()
			}
		}
		if got := p.localOf(&Client{IP: a}); got.net != want {
			t.Fatalf("localOf(%s) = network %d; want %d", a, got.net, want)
		}
	}
}

// TestHoldersKeyedByParent: a pool of a file's holders keys geo's tiers
// on its parent's networks and ASNs, with the key the parent's rules
// looked up, and picks and orders as a pool of the same mirrors built on
// its own does, for clients inside nested networks, in a mirror's AS, in
// both and in neither, whose key was first looked up in another pool and
// whose AS was moved after the rules looked it up (?as=).
func TestHoldersKeyedByParent(t *testing.T) {
	nets := []string{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "192.0.2.0/24", "2001:db8::/32", "2001:db8:1::/48"}
	var ms []Mirror
	for i := range 60 {
		m := Mirror{Name: fmt.Sprintf("m%d", i), Country: []string{"DE", "FR", "US"}[i%3], Continent: []string{"EU", "EU", "NA"}[i%3],
			Weight: float64(1 + i%4), Effective: float64(1 + i%4), IPv6: true}
		switch i % 6 {
		case 0, 1:
			m.Networks = []netip.Prefix{netip.MustParsePrefix(nets[i%len(nets)])}
		case 2:
			m.ASNs = []uint32{uint32(64500 + i%4)}
		case 3:
			m.IPv6Only = true // a rule: the parent looks the key up in Eligible
		}
		ms = append(ms, m)
	}
	other := NewPool(PoolSpec{Strategy: new(Geo), Mirrors: []Mirror{{Name: "x", Weight: 1, Effective: 1, Only: OwnNetworks,
		Networks: []netip.Prefix{netip.MustParsePrefix("10.1.2.3/32"), netip.MustParsePrefix("2001:db8:1::/64")}}}})
	var masks [][]uint64
	for _, every := range []int{2, 3, 5} {
		m := make([]uint64, 1)
		for i := 1; i < len(ms); i += every {
			m[0] |= 1 << i
		}
		masks = append(masks, m)
	}
	seq := func() func() uint64 {
		r := rand.New(rand.NewPCG(7, 7))
		return r.Uint64
	}
	p := NewPool(PoolSpec{Strategy: &Geo{rand: seq()}, Mirrors: ms})
	for _, addr := range []string{"10.1.2.3", "10.1.9.9", "10.7.0.1", "192.0.2.9", "198.51.100.1", "2001:db8:1::7", "2001:db8:2::7", "2001:db9::1"} {
		for _, asn := range []uint32{0, 64500, 64503, 3320} {
			for _, only := range masks {
				c := Client{IP: ip(addr), ASN: 64502, Country: "FR", Continent: "EU"}
				other.Eligible(&c, nil) // c now holds the other pool's key
				c.Only = only
				c.Only = p.Eligible(&c, nil)
				c.ASN = asn // moved after the rules looked, as ?as= does
				var own []Mirror
				for i := range ms {
					if allowed(c.Only, i) {
						own = append(own, ms[i])
					}
				}
				alone := NewPool(PoolSpec{Strategy: &Geo{rand: seq()}, Mirrors: own})
				p.Strategy.(*Geo).rand = seq()
				plain := c
				plain.Only, plain.place, plain.localIn = nil, nil, nil
				for range 20 {
					m, order, err := PickRank(context.Background(), p, c, nil, 0)
					want, wantOrder, werr := PickRank(context.Background(), alone, plain, nil, 0)
					if err != nil || werr != nil {
						t.Fatalf("%s AS%d: %v, %v", addr, asn, err, werr)
					}
					if m.Name != want.Name {
						t.Fatalf("%s AS%d mask %x: picked %s; the pool of the holders alone picks %s", addr, asn, only, m.Name, want.Name)
					}
					got := make([]string, len(order))
					for k, i := range order {
						got[k] = p.Mirrors[i].Name
					}
					wantNames := make([]string, len(wantOrder))
					for k, i := range wantOrder {
						wantNames[k] = alone.Mirrors[i].Name
					}
					if !slices.Equal(got, wantNames) {
						t.Fatalf("%s AS%d mask %x: order %v; the pool alone gives %v", addr, asn, only, got, wantNames)
					}
				}
			}
		}
	}
}
