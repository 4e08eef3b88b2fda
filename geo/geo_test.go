package geo

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/dispatcher/dispatcher/internal/itest"
	"github.com/dispatcher/dispatcher/strategy"
)

func f(v float64) *float64 { return &v }

func TestBothSchemas(t *testing.T) {
	entries := []itest.GeoEntry{
		{Network: "198.51.100.0/24", Country: "DE", Continent: "EU", Lat: f(48.14), Lon: f(11.58)},
		{Network: "203.0.113.0/24", Country: "JP", Continent: "AS"},
		{Network: "2001:db8::/32", Country: "BR", Continent: "SA"},
	}
	for _, flat := range []bool{false, true} {
		db, err := Open(itest.WriteMMDB(t, flat, entries...))
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			ip, country, continent string
			precise                bool
		}{
			{"198.51.100.7", "DE", "EU", !flat},
			{"203.0.113.200", "JP", "AS", false},
			{"2001:db8:1::5", "BR", "SA", false},
			{"::ffff:203.0.113.1", "JP", "AS", false},
		}
		for _, tt := range tests {
			c := strategy.Client{IP: netip.MustParseAddr(tt.ip)}
			db.Locate(&c)
			if c.Country != tt.country || c.Continent != tt.continent || !c.HasLoc || c.Precise != tt.precise {
				t.Errorf("flat=%v Locate(%s) = %+v; want %s/%s precise=%v", flat, tt.ip, c, tt.country, tt.continent, tt.precise)
			}
		}
		c := strategy.Client{IP: netip.MustParseAddr("192.0.2.1")}
		db.Locate(&c)
		if c.Country != "" || c.HasLoc {
			t.Errorf("flat=%v: unknown address located as %+v", flat, c)
		}
		db.Close()
	}
}

// TestShippedDatabase opens data/geo-whois-asn-country.mmdb and maps
// well-known public addresses to the countries their operators registered.
func TestShippedDatabase(t *testing.T) {
	db, err := Open("../data/geo-whois-asn-country.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tests := []struct{ ip, country string }{
		{"8.8.8.8", "US"},                   // Google Public DNS
		{"9.9.9.9", "US"},                   // Quad9 (registered by its US entity)
		{"193.0.6.139", "NL"},               // RIPE NCC, Amsterdam
		{"202.12.29.205", "AU"},             // APNIC, Brisbane
		{"200.160.2.3", "BR"},               // NIC.br
		{"2001:67c:2e8:22::c100:68b", "NL"}, // RIPE NCC over IPv6
	}
	for _, tt := range tests {
		loc, err := db.Lookup(netip.MustParseAddr(tt.ip))
		if err != nil || loc.Country != tt.country {
			t.Errorf("Lookup(%s) = %+v, %v; want %s", tt.ip, loc, err, tt.country)
		}
		if loc.Continent == "" || !loc.HasLoc {
			t.Errorf("Lookup(%s): continent and centroid should come from the table: %+v", tt.ip, loc)
		}
	}
}

func TestCountryTable(t *testing.T) {
	tests := []struct{ cc, continent string }{
		{"DE", "EU"}, {"US", "NA"}, {"BR", "SA"}, {"CN", "AS"}, {"AU", "OC"}, {"ZA", "AF"}, {"AQ", "AN"}, {"RU", "EU"}, {"SS", "AF"},
	}
	for _, tt := range tests {
		c, ok := LookupCountry(tt.cc)
		if !ok || c.Continent != tt.continent {
			t.Errorf("LookupCountry(%s) = %+v, %v; want %s", tt.cc, c, ok, tt.continent)
		}
	}
	if _, ok := LookupCountry("XX"); ok {
		t.Errorf("XX is not a country")
	}
}

// BenchmarkGeoPick measures what a geo pool costs per request: the lookup
// in the shipped database plus the pick, for a pool of 8 and of 100 mirrors.
func BenchmarkGeoPick(b *testing.B) {
	db, err := Open("../data/geo-whois-asn-country.mmdb")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	codes := []string{"DE", "US", "JP", "BR", "FR", "CN", "AU", "ZA", "IN", "CA"}
	for _, n := range []int{8, 100} {
		ms := make([]strategy.Mirror, n)
		for i := range ms {
			c, _ := LookupCountry(codes[i%len(codes)])
			ms[i] = strategy.Mirror{Name: "m" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Country: codes[i%len(codes)],
				Continent: c.Continent, Lat: c.Lat, Lon: c.Lon, HasLoc: true, Weight: 1, Effective: 1}
		}
		p := strategy.NewPool(strategy.PoolSpec{Strategy: new(strategy.Geo), Mirrors: ms})
		ip := netip.MustParseAddr("193.0.6.139") // NL: continent tier, distance narrowing
		b.Run(fmt.Sprintf("lookup+pick/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c := strategy.Client{IP: ip}
				db.Locate(&c)
				if _, err := p.Strategy.Pick(context.Background(), p, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("lookup", func(b *testing.B) {
		b.ReportAllocs()
		ip := netip.MustParseAddr("193.0.6.139")
		for b.Loop() {
			c := strategy.Client{IP: ip}
			db.Locate(&c)
		}
	})
}
