package geo

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestNetCacheKeepsAnswers: networks smaller than the cache's /24 and /48
// keys are answered by their own records, whichever address of the /24
// or /48 was asked first; a /16 and a /32 are answered from the cache.
func TestNetCacheKeepsAnswers(t *testing.T) {
	db, err := OpenASN(itest.WriteASNMMDB(t,
		itest.ASNEntry{Network: "198.51.100.0/25", ASN: 64501, Org: "low half"},
		itest.ASNEntry{Network: "198.51.100.128/25", ASN: 64502, Org: "high half"},
		itest.ASNEntry{Network: "203.0.0.0/16", ASN: 64503, Org: "a /16"},
		itest.ASNEntry{Network: "2001:db8:1::/64", ASN: 64504, Org: "one /64"},
		itest.ASNEntry{Network: "2001:db9::/32", ASN: 64505, Org: "a /32"},
	))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for round := range 2 { // the second round reads what the first cached
		for _, tt := range []struct {
			ip  string
			asn uint32
		}{
			{"198.51.100.1", 64501}, {"198.51.100.200", 64502}, {"198.51.100.127", 64501},
			{"203.0.7.1", 64503}, {"203.0.7.2", 64503}, {"203.0.200.9", 64503},
			{"2001:db8:1::1", 64504}, {"2001:db8:1:1::1", 0}, {"2001:db8:1::2", 64504},
			{"2001:db9:5::1", 64505}, {"2001:db9:5::2", 64505},
			{"192.0.2.1", 0}, {"192.0.2.2", 0},
		} {
			if got := db.ASN(netip.MustParseAddr(tt.ip)); got != tt.asn {
				t.Errorf("round %d: ASN(%s) = %d; want %d", round, tt.ip, got, tt.asn)
			}
		}
	}
	var cached int
	for i := range db.byNet.slots {
		if db.byNet.slots[i].Load() != nil {
			cached++
		}
	}
	// 203.0.7, 203.0.200, 2001:db9:5 and 192.0.2 (no record) are kept;
	// 198.51.100 and 2001:db8:1 have records smaller than the key.
	if cached != 4 {
		t.Errorf("%d networks cached; want 4", cached)
	}
}

// TestNetCacheIsTheDatabase: over addresses drawn at random, the shipped
// databases answer the same with the cache as a fresh reader does
// without it, on the first ask and on the second.
func TestNetCacheIsTheDatabase(t *testing.T) {
	asn, err := OpenASN("../data/asn.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	defer asn.Close()
	country, err := Open("../data/geo-whois-asn-country.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	defer country.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		var a netip.Addr
		if i%2 == 0 {
			a = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		} else {
			var b [16]byte
			b[0], b[1] = 0x20, byte(rng.IntN(16))
			for j := 2; j < 16; j++ {
				b[j] = byte(rng.Uint32())
			}
			a = netip.AddrFrom16(b)
		}
		// Its neighbour in the same /24 or /48, asked after it.
		n := a.Next()
		for _, ip := range []netip.Addr{a, n, a} {
			var want uint32
			if res := asn.r.Lookup(ip); res.Found() {
				var rec asnRecord
				if err := res.Decode(&rec); err != nil {
					t.Fatal(err)
				}
				want = rec.ASN
			}
			if got := asn.ASN(ip); got != want {
				t.Fatalf("ASN(%s) = %d; the database says %d", ip, got, want)
			}
			wantLoc, wantErr := decodeLocation(country.r.Lookup(ip))
			gotLoc, gotErr := country.Lookup(ip)
			if gotLoc != wantLoc || (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("Lookup(%s) = %+v, %v; the database says %+v, %v", ip, gotLoc, gotErr, wantLoc, wantErr)
			}
		}
	}
}

// BenchmarkLookups is a country and an AS lookup of one address, from
// the cache (every lookup after the first).
func BenchmarkLookups(b *testing.B) {
	country, err := Open("../data/geo-whois-asn-country.mmdb")
	if err != nil {
		b.Fatal(err)
	}
	defer country.Close()
	asn, err := OpenASN("../data/asn.mmdb")
	if err != nil {
		b.Fatal(err)
	}
	defer asn.Close()
	a := netip.MustParseAddr("85.214.0.1")
	b.Run("country", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			country.Lookup(a)
		}
	})
	b.Run("asn", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			asn.ASN(a)
		}
	})
}
