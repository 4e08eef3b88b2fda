package strategy

import (
	"math/rand/v2"
	"net/netip"
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
