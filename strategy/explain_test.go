package strategy

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// sharesMirrors is a pool with every kind of mirror geo and the https and
// IPv6 sets tell apart: same country, a listed country, same continent,
// coordinates or none, https, IPv6, unusable, and uneven weights.
var sharesMirrors = []Mirror{
	{Name: "de-berlin", Country: "DE", Continent: "EU", Lat: 52.5, Lon: 13.4, HasLoc: true, HTTPS: true, Weight: 3, Effective: 3},
	{Name: "de-munich", Country: "DE", Continent: "EU", Lat: 48.1, Lon: 11.6, HasLoc: true, Weight: 1, Effective: 1},
	{Name: "at-vienna", Country: "AT", Continent: "EU", Countries: []string{"DE"}, Lat: 48.2, Lon: 16.4, HasLoc: true, IPv6: true, Weight: 2, Effective: 1.5},
	{Name: "fr-paris", Country: "FR", Continent: "EU", Lat: 48.9, Lon: 2.4, HasLoc: true, HTTPS: true, IPv6: true, Weight: 2, Effective: 2},
	{Name: "pt-lisbon", Country: "PT", Continent: "EU", Lat: 38.7, Lon: -9.1, HasLoc: true, Weight: 5, Effective: 5},
	{Name: "us-east", Country: "US", Continent: "NA", Lat: 39, Lon: -77.5, HasLoc: true, HTTPS: true, Weight: 4, Effective: 4},
	{Name: "us-west", Country: "US", Continent: "NA", Lat: 37.4, Lon: -122, HasLoc: true, Weight: 1, Effective: 0.5},
	{Name: "br", Country: "BR", Continent: "SA", Weight: 1, Effective: 1},
	{Name: "jp-down", Country: "JP", Continent: "AS", Lat: 35.7, Lon: 139.7, HasLoc: true, Weight: 9, Effective: 0},
	{Name: "nowhere", Weight: 0.7, Effective: 0.7, IPv6: true},
}

// TestSharesArePickOdds checks that the exact shares /api/explain reports
// are the odds the strategies' own picks follow: for random and geo, for
// clients placed nowhere, by country, precisely and by continent, over
// https and IPv6, with and without a file's holders, the share of 200,000
// real picks is within 0.006 of each mirror's explained share, and a
// mirror explained at 0 is never picked.
func TestSharesArePickOdds(t *testing.T) {
	clients := map[string]Client{
		"unknown":           {IP: ip("192.0.2.1")},
		"DE by country":     {IP: ip("192.0.2.1"), Country: "DE", Continent: "EU", Lat: 51, Lon: 9, HasLoc: true},
		"DE precise":        {IP: ip("192.0.2.1"), Country: "DE", Continent: "EU", Lat: 48.0, Lon: 11.5, HasLoc: true, Precise: true},
		"ES no coordinates": {IP: ip("192.0.2.1"), Country: "ES", Continent: "EU"},
		"ES centroid":       {IP: ip("192.0.2.1"), Country: "ES", Continent: "EU", Lat: 40, Lon: -4, HasLoc: true},
		"US secure":         {IP: ip("192.0.2.1"), Country: "US", Continent: "NA", Lat: 38, Lon: -97, HasLoc: true, Secure: true},
		"CN":                {IP: ip("192.0.2.1"), Country: "CN", Continent: "AS", Lat: 35, Lon: 103, HasLoc: true},
		"IPv6 secure":       {IP: ip("2001:db8::1"), Secure: true},
		"DE holders":        {IP: ip("192.0.2.1"), Country: "DE", Continent: "EU", Lat: 51, Lon: 9, HasLoc: true, Only: mask(1, 3, 4, 5)},
		"DE far holders":    {IP: ip("192.0.2.1"), Country: "DE", Continent: "EU", Lat: 51, Lon: 9, HasLoc: true, Only: mask(5, 6, 7)},
		"secure, http only": {IP: ip("192.0.2.1"), Secure: true, Only: mask(1, 4)},
		"no usable holder":  {IP: ip("192.0.2.1"), Only: mask(8)},
	}
	const draws = 200000
	for _, name := range []string{"random", "geo", "roundrobin"} {
		for cname, c := range clients {
			t.Run(name+"/"+cname, func(t *testing.T) {
				src := rand.New(rand.NewPCG(3, 4))
				var s Strategy
				switch name {
				case "random":
					s = &Random{rand: src.Uint64}
				case "geo":
					s = &Geo{rand: src.Uint64}
				default:
					s = new(RoundRobin)
				}
				p := NewPool(PoolSpec{Name: "shares", Strategy: s, Mirrors: sharesMirrors})
				shares, now := Shares(p, c)
				var sum float64
				for _, sh := range shares {
					sum += sh.Share
				}
				got := make([]int, len(p.Mirrors))
				ctx := context.Background()
				n := draws
				for range n {
					m, err := s.Pick(ctx, p, c)
					if err != nil {
						if sum != 0 || now != nil {
							t.Fatalf("pick fails (%v), yet the shares add to %v and the mirror now is %v", err, sum, now)
						}
						return
					}
					got[m.Index]++
				}
				if math.Abs(sum-1) > 1e-9 {
					t.Fatalf("shares add to %v; picks succeed", sum)
				}
				if name != "roundrobin" && (now == nil || shares[now.Index].Share == 0) {
					t.Errorf("the mirror now, %v, has no share", now)
				}
				for i, sh := range shares {
					odds := float64(got[i]) / float64(n)
					if math.Abs(odds-sh.Share) > 0.006 || sh.Share == 0 && got[i] > 0 {
						t.Errorf("%s: explained share %.4f, picked %.4f of %d", p.Mirrors[i].Name, sh.Share, odds, n)
					}
				}
			})
		}
	}
}

// BenchmarkShares explains a pool of 1,000 and 10,000 mirrors to a client
// placed by country and to one placed precisely: what one /api/explain
// call costs in the strategy package.
func BenchmarkShares(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		ms := make([]Mirror, n)
		countries := []string{"DE", "FR", "US", "BR", "JP", "AU", "ZA", "IN"}
		continents := []string{"EU", "EU", "NA", "SA", "AS", "OC", "AF", "AS"}
		for i := range ms {
			k := i % len(countries)
			w := float64(1 + i%3)
			ms[i] = Mirror{Name: fmt.Sprintf("mirror-%d", i), Country: countries[k], Continent: continents[k],
				Lat: float64(i%170) - 85, Lon: float64(i%360) - 180, HasLoc: true, Weight: w, Effective: w}
		}
		for _, st := range []string{"random", "geo"} {
			var s Strategy = new(Random)
			if st == "geo" {
				s = new(Geo)
			}
			p := NewPool(PoolSpec{Name: "bench", Strategy: s, Mirrors: ms})
			c := Client{IP: ip("192.0.2.1"), Country: "DE", Continent: "EU", Lat: 48, Lon: 11.5, HasLoc: true, Precise: true}
			b.Run(fmt.Sprintf("%s/%d", st, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					Shares(p, c)
				}
			})
		}
	}
}

// scaleMirrors is n mirrors over eight countries with coordinates and
// uneven weights, as the scale benchmarks use them.
func scaleMirrors(n int) []Mirror {
	countries := []string{"DE", "FR", "US", "BR", "JP", "AU", "ZA", "IN"}
	continents := []string{"EU", "EU", "NA", "SA", "AS", "OC", "AF", "AS"}
	ms := make([]Mirror, n)
	for i := range ms {
		k := i % len(countries)
		w := float64(1 + i%3)
		ms[i] = Mirror{Name: fmt.Sprintf("mirror-%d", i), Country: countries[k], Continent: continents[k],
			Lat: float64(i%170) - 85, Lon: float64(i%360) - 180, HasLoc: true, Weight: w, Effective: w}
	}
	return ms
}

// BenchmarkPickAndLink is what a redirect asks of the strategy (PickRank):
// a pick and the next three mirrors for the Link header, for every strategy at 10,
// 100, 1,000 and 10,000 mirrors, for every file, for a file half the
// mirrors hold and for one a mirror in 97 holds; geo for a client placed by country and one placed by a
// city database.
func BenchmarkPickAndLink(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		ms := scaleMirrors(n)
		half := make([]uint64, (n+63)/64)
		for i := 0; i < n; i += 2 {
			half[i/64] |= 1 << (i % 64)
		}
		sparse := make([]uint64, (n+63)/64) // one mirror in 97, from the last
		for i := n - 1; i >= 0; i -= 97 {
			sparse[i/64] |= 1 << (i % 64)
		}
		for _, st := range []string{"random", "roundrobin", "iphash", "geo-country", "geo-city"} {
			var s Strategy
			switch st {
			case "random":
				s = new(Random)
			case "roundrobin":
				s = new(RoundRobin)
			case "iphash":
				s = new(IPHash)
			default:
				s = new(Geo)
			}
			p := NewPool(PoolSpec{Name: "bench", Strategy: s, Mirrors: ms})
			c := Client{IP: ip("192.0.2.1"), Country: "DE", Continent: "EU", Lat: 51, Lon: 9, HasLoc: true}
			c.Precise = st == "geo-city"
			for _, hold := range []string{"", "half-hold", "sparse-hold"} {
				c.Only = nil
				name := fmt.Sprintf("%s/%d", st, n)
				switch hold {
				case "half-hold":
					c.Only = half
				case "sparse-hold":
					c.Only = sparse
				}
				if hold != "" {
					name += "/" + hold
				}
				b.Run(name, func(b *testing.B) {
					ctx := context.Background()
					var buf [4]int
					b.ReportAllocs()
					for b.Loop() {
						if _, _, err := PickRank(ctx, p, c, buf[:0], 4); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
