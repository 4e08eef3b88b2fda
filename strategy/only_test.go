package strategy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

func mask(ids ...int) []uint64 {
	m := make([]uint64, 1)
	for _, i := range ids {
		m[i/64] |= 1 << (i % 64)
	}
	return m
}

// TestOnlyHolders: with Client.Only every strategy picks among the
// allowed mirrors alone, in proportion to their weights (random, round
// robin), and answers ErrNoMirror when none is allowed.
func TestOnlyHolders(t *testing.T) {
	weights := []float64{1, 2, 3, 4, 5}
	// Seeded draws: the shares are checked to 5%, which an unseeded run
	// of 12,000 draws misses about once in a hundred.
	seeded := func() func() uint64 { return rand.New(rand.NewPCG(7, 11)).Uint64 }
	for _, tt := range []struct {
		name string
		s    Strategy
	}{{"random", &Random{rand: seeded()}}, {"roundrobin", new(RoundRobin)}, {"iphash", new(IPHash)}, {"geo", &Geo{rand: seeded()}}} {
		t.Run(tt.name, func(t *testing.T) {
			p := testPool(tt.s, weights...)
			only := mask(1, 3, 4)
			counts := make([]int, len(weights))
			const draws = 12000
			for n := range draws {
				c := Client{IP: ip(fmt.Sprintf("198.51.%d.%d", n/250, n%250+1)), Only: only}
				m, err := p.Strategy.Pick(context.Background(), p, c)
				if err != nil {
					t.Fatal(err)
				}
				if !allowed(only, m.Index) {
					t.Fatalf("picked %s, which does not hold the file", m.Name)
				}
				counts[m.Index]++
			}
			if tt.name != "iphash" { // HRW follows the weights only in expectation per client
				checkShares(t, []int{counts[1], counts[3], counts[4]}, []float64{2, 4, 5}, 0.05)
			}
			if _, err := p.Strategy.Pick(context.Background(), p, Client{Only: mask()}); !errors.Is(err, ErrNoMirror) {
				t.Errorf("no holder: %v; want ErrNoMirror", err)
			}
			c := Client{IP: ip("198.51.100.9"), Only: only}
			if n := testing.AllocsPerRun(100, func() { p.Strategy.Pick(context.Background(), p, c) }); n != 0 {
				t.Errorf("a pick among holders allocates %v times", n)
			}
		})
	}
}

// TestOnlyIPHashMoves: a file one mirror lacks moves that mirror's
// clients and fewer than as many others, as the mirror leaving would
// (TestIPHashDisruption's bound); at 5 mirrors, one a group, exactly its
// own.
func TestOnlyIPHashMoves(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	keys := make([]netip.Addr, 30000)
	for i := range keys {
		keys[i] = netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
	}
	for _, n := range []int{5, 100, 1000} {
		ws := make([]float64, n)
		var total float64
		for i := range ws {
			ws[i] = 0.5 + 2*r.Float64()
			total += ws[i]
		}
		p := testPool(new(IPHash), ws...)
		j := n / 2
		only := make([]uint64, (n+63)/64)
		for i := range n {
			if i != j {
				only[i/64] |= 1 << (i % 64)
			}
		}
		moved, others := 0, 0
		for _, k := range keys {
			before, _ := p.Strategy.Pick(context.Background(), p, Client{IP: k})
			after, _ := p.Strategy.Pick(context.Background(), p, Client{IP: k, Only: only})
			if after.Index == j {
				t.Fatalf("N=%d: client %s sent to %s, which lacks the file", n, k, after.Name)
			}
			if after != before {
				moved++
				if before.Index != j {
					others++
				}
			}
		}
		share := ws[j] / total
		got := float64(moved) / float64(len(keys))
		if bound := 2*share + 4*math.Sqrt(2*share/float64(len(keys))); got > bound {
			t.Errorf("N=%d: a file mirror %d (share %.4f) lacks moved %.4f of the clients; want at most %.4f", n, j, share, got, bound)
		}
		if n == 5 && others != 0 {
			t.Errorf("N=5: %d clients of mirrors that hold the file moved", others)
		}
		t.Logf("N=%d: a file one mirror (share %.4f) lacks moves %.4f (%.2f× its share)", n, share, got, got/share)
	}
}

// TestOnlyGeoTiers: the nearest tier that holds the file wins; https
// clients fall back to a plain-http holder when no https mirror holds it.
func TestOnlyGeoTiers(t *testing.T) {
	ms := []Mirror{
		{Name: "de", Country: "DE", Continent: "EU", Weight: 1, Effective: 1, HTTPS: true},
		{Name: "fr", Country: "FR", Continent: "EU", Weight: 1, Effective: 1},
		{Name: "us", Country: "US", Continent: "NA", Weight: 1, Effective: 1, HTTPS: true},
	}
	p := NewPool(PoolSpec{Strategy: new(Geo), Mirrors: ms})
	de := Client{Country: "DE", Continent: "EU"}
	tests := []struct {
		only   []uint64
		secure bool
		want   string
	}{
		{mask(0, 1, 2), false, "de"},
		{mask(1, 2), false, "fr"}, // continent before world
		{mask(2), false, "us"},
		{mask(1), true, "fr"}, // no https holder: the http one
	}
	for _, tt := range tests {
		c := de
		c.Only, c.Secure = tt.only, tt.secure
		for range 20 {
			if m, err := p.Strategy.Pick(context.Background(), p, c); err != nil || m.Name != tt.want {
				t.Fatalf("only %b secure %v: %v %v; want %s", tt.only[0], tt.secure, m, err, tt.want)
			}
		}
	}
	if r := Rank(p, Client{Country: "DE", Continent: "EU", Only: mask(1, 2)}, nil, 0); len(r) != 2 || r[0] != 1 || r[1] != 2 {
		t.Errorf("Rank among holders = %v; want [1 2]", r)
	}
}

// BenchmarkPickOnly picks among the holders of a file in a pool of 100 and
// 10,000 mirrors of which every other one holds it: the worst case of a
// file-aware pool, O(mirrors) without allocation.
func BenchmarkPickOnly(b *testing.B) {
	for _, s := range []struct {
		name string
		s    Strategy
	}{{"random", new(Random)}, {"roundrobin", new(RoundRobin)}, {"iphash", new(IPHash)}, {"geo", new(Geo)}} {
		for _, n := range []int{100, 10000} {
			b.Run(fmt.Sprintf("%s/%d", s.name, n), func(b *testing.B) {
				p := benchPool(s.s, n)
				only := make([]uint64, (n+63)/64)
				for i := range only {
					only[i] = 0x5555555555555555
				}
				c := Client{IP: ip("192.0.2.1"), Country: "DE", Continent: "EU", Only: only}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.s.Pick(context.Background(), p, c); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestRestrictedPools: random, round robin and geo pick among a file's
// holders in a pool of the holders, built once per set of holders: the
// same set seen again uses the same pool, at most maxRestricted are kept,
// and past that the picks still go to holders only, by scanning; the
// shares among the holders follow the weights either way.
func TestRestrictedPools(t *testing.T) {
	seeded := func() func() uint64 { return rand.New(rand.NewPCG(5, 8)).Uint64 }
	for _, s := range []Strategy{&Random{rand: seeded()}, new(RoundRobin), &Geo{rand: seeded()}} {
		t.Run(fmt.Sprintf("%T", s), func(t *testing.T) {
			ms := make([]Mirror, 130)
			for i := range ms {
				w := float64(1 + i%3)
				ms[i] = Mirror{Name: fmt.Sprintf("m%d", i), Country: "DE", Continent: "EU", Weight: w, Effective: w}
			}
			p := NewPool(PoolSpec{Strategy: s, Mirrors: ms})
			holders := func(seed int) []uint64 {
				m := make([]uint64, 3)
				for i := seed % 7; i < len(ms); i += 2 + seed%5 {
					m[i/64] |= 1 << (i % 64)
				}
				m[(seed+64)/64] |= 1 << ((seed + 64) % 64) // one bit of its own
				return m
			}
			first := p.restrict(holders(0))
			if again := p.restrict(append([]uint64(nil), holders(0)...)); again != first || first == nil {
				t.Fatalf("the same holders got another pool (%p, %p)", first, again)
			}
			for seed := range 2 * maxRestricted {
				only := holders(seed)
				counts := make([]int, len(ms))
				for n := range 6000 {
					c := Client{IP: ip(fmt.Sprintf("198.51.%d.%d", n/250, n%250+1)), Country: "DE", Continent: "EU", Only: only}
					m, err := s.Pick(context.Background(), p, c)
					if err != nil || !allowed(only, m.Index) {
						t.Fatalf("holders %d: picked %v (%v), not a holder", seed, m, err)
					}
					counts[m.Index]++
				}
				var got, want [3]float64 // by weight class
				for i := range ms {
					if allowed(only, i) {
						got[i%3] += float64(counts[i])
						want[i%3] += ms[i].Effective
					}
				}
				wsum := want[0] + want[1] + want[2]
				for k := range got {
					if d := got[k]/6000 - want[k]/wsum; d > 0.03 || d < -0.03 {
						t.Errorf("holders %d: weight class %d got %.3f of the picks; want %.3f", seed, k, got[k]/6000, want[k]/wsum)
					}
				}
			}
			if n := p.restricts.count.Load(); n != maxRestricted {
				t.Errorf("%d restricted pools kept; want the bound, %d", n, maxRestricted)
			}
		})
	}
}

// TestIPHashHoldersPool: ip hash's pick among the holders is the same
// whether the holders' pool is cached or the pool is scanned
// (pickAllowed): the same groups, weights and scores; at 3,000 mirrors too, where the pool has 128 groups and
// the pool of its 1,000 holders keeps them.
func TestIPHashHoldersPool(t *testing.T) {
	for _, n := range []int{300, 3000} {
		ms := make([]Mirror, n)
		for i := range ms {
			w := float64(1 + i%4)
			ms[i] = Mirror{Name: fmt.Sprintf("m%d", i), Weight: w, Effective: w, HTTPS: i%5 == 0}
		}
		p := NewPool(PoolSpec{Strategy: new(IPHash), Mirrors: ms})
		only := make([]uint64, (n+63)/64)
		for i := 0; i < len(ms); i += 3 {
			only[i/64] |= 1 << (i % 64)
		}
		r := rand.New(rand.NewPCG(4, 4))
		for k := range 3000 {
			c := Client{IP: ip(fmt.Sprintf("10.%d.%d.%d", r.IntN(256), r.IntN(256), r.IntN(256))), Secure: k%2 == 0, Only: only}
			m, err := p.Strategy.Pick(context.Background(), p, c)
			if err != nil || !allowed(only, m.Index) {
				t.Fatalf("picked %v (%v), not a holder", m, err)
			}
			s := p.onlySet(&c)
			key := p.clientKey(c.IP)
			want := s.idx[p.rendezvousOf(s).pickAllowed(key, s.idx, only)]
			if m.Index != want {
				t.Fatalf("n=%d client %s (secure %v): holders' pool gave %s, the scan %s", n, c.IP, c.Secure, m.Name, p.Mirrors[want].Name)
			}
		}
	}
}

// TestRestrictedBudget: the holders' pools of a large pool are bounded by
// the mirrors in them, not only by their number: with 3,000 mirrors and
// sets of 2,000 holders, 32 sets are kept and the rest scanned.
func TestRestrictedBudget(t *testing.T) {
	ms := make([]Mirror, 3000)
	for i := range ms {
		ms[i] = Mirror{Name: fmt.Sprintf("m%d", i), Weight: 1, Effective: 1}
	}
	p := NewPool(PoolSpec{Strategy: new(Random), Mirrors: ms})
	kept := 0
	for seed := range 50 {
		only := make([]uint64, (len(ms)+63)/64)
		for n, i := 0, seed; n < 2000; n, i = n+1, (i+1)%len(ms) {
			only[i/64] |= 1 << (i % 64)
		}
		if p.restrict(only) != nil {
			kept++
		}
		m, err := p.Strategy.Pick(context.Background(), p, Client{Only: only})
		if err != nil || !allowed(only, m.Index) {
			t.Fatalf("set %d: picked %v (%v)", seed, m, err)
		}
	}
	if want := maxRestrictedMirrors / 2000; kept != want || int(p.restricts.mirrors.Load()) != want*2000 {
		t.Errorf("kept %d sets (%d mirrors); want %d", kept, p.restricts.mirrors.Load(), want)
	}
}

// BenchmarkRestrict builds the holders' pool of a file half the mirrors
// hold, at 10, 1,000 and 10,000 mirrors: what the first request for a new
// set of holders pays after each snapshot (random and geo; round robin
// builds its cycle too).
func BenchmarkRestrict(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		for _, s := range []Strategy{new(Random), new(Geo), new(RoundRobin)} {
			ms := scaleMirrors(n)
			half := make([]uint64, (n+63)/64)
			for i := 0; i < n; i += 2 {
				half[i/64] |= 1 << (i % 64)
			}
			b.Run(fmt.Sprintf("%T/%d", s, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					p := NewPool(PoolSpec{Strategy: s, Mirrors: ms}) // a new snapshot: an empty cache
					b.StartTimer()
					p.restrict(half)
				}
			})
		}
	}
}

// TestPickRankIsPickAndRank: PickRank answers what Pick and Rank answer
// apart, for ip hash (one pass) and round robin (one look-up of the
// holders) over many clients, sets and masks: every mirror, half, one in
// ten, and a mask that leaves out the client's own. Round robin's
// PickRank is asked of a twin pool whose sequence is at the same position.
func TestPickRankIsPickAndRank(t *testing.T) {
	for _, n := range []int{3, 40, 300, 3000} {
		for _, st := range []func() Strategy{func() Strategy { return new(IPHash) }, func() Strategy { return new(RoundRobin) }} {
			testPickRankIsPickAndRank(t, n, st)
		}
	}
}

func testPickRankIsPickAndRank(t *testing.T, n int, st func() Strategy) {
	ms := make([]Mirror, n)
	for i := range ms {
		ms[i] = Mirror{Name: fmt.Sprintf("m%d", i), Effective: float64(1 + i%4), HTTPS: i%3 != 0, IPv6: i%2 == 0}
	}
	p := NewPool(PoolSpec{Strategy: st(), Mirrors: ms})
	twin := NewPool(PoolSpec{Strategy: st(), Mirrors: ms})
	masks := map[string][]uint64{"all": nil}
	for _, every := range []int{2, 10} {
		m := make([]uint64, (n+63)/64)
		for i := 0; i < n; i += every {
			m[i/64] |= 1 << (i % 64)
		}
		masks[fmt.Sprintf("1/%d", every)] = m
	}
	r := rand.New(rand.NewPCG(uint64(n), 9))
	for name, only := range masks {
		for range 300 {
			var a netip.Addr
			if r.IntN(2) == 0 {
				a = netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
			} else {
				a = netip.AddrFrom16([16]byte{0x20, 0x01, 0xd, 0xb8, byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
			}
			c := Client{IP: a, Secure: r.IntN(2) == 0, Only: only}
			want, err := p.Strategy.Pick(context.Background(), p, c)
			if err != nil {
				t.Fatal(err)
			}
			wantRank := Rank(p, c, nil, 4)
			got, gotRank, err := PickRank(context.Background(), twin, c, make([]int, 0, 4), 4)
			if err != nil || got.Index != want.Index || !slices.Equal(gotRank, wantRank) {
				t.Fatalf("%T n=%d mask %s client %v: PickRank = %v %v %v; Pick and Rank = %s %v", p.Strategy, n, name, c.IP, got.Name, gotRank, err, want.Name, wantRank)
			}
		}
	}
}

// TestPrepare: prepared sets of holders are kept, and a pick under one
// finds its pool built (no new pool), for every strategy.
func TestPrepare(t *testing.T) {
	for _, s := range []Strategy{new(Random), new(RoundRobin), new(IPHash), new(Geo)} {
		ms := make([]Mirror, 200)
		for i := range ms {
			ms[i] = Mirror{Name: fmt.Sprintf("m%d", i), Effective: 1, Country: "DE", Continent: "EU"}
		}
		p := NewPool(PoolSpec{Strategy: s, Mirrors: ms})
		var masks [][]uint64
		for every := 2; every <= 5; every++ {
			m := make([]uint64, 4)
			for i := 0; i < len(ms); i += every {
				m[i/64] |= 1 << (i % 64)
			}
			masks = append(masks, m)
		}
		if got := p.Prepare(masks); got != len(masks) || p.HolderPools() != len(masks) {
			t.Fatalf("%T: Prepare kept %d, HolderPools %d; want %d", s, got, p.HolderPools(), len(masks))
		}
		for i := range 500 {
			c := Client{IP: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), Country: "DE", Continent: "EU", Only: masks[i%len(masks)]}
			if _, _, err := PickRank(context.Background(), p, c, nil, 4); err != nil {
				t.Fatal(err)
			}
		}
		if p.HolderPools() != len(masks) {
			t.Fatalf("%T: picks under prepared sets built pools: %d kept; want %d", s, p.HolderPools(), len(masks))
		}
	}
}

// TestRankAmongHolders: random's, round robin's and geo's order under a
// file is their order without it, less the mirrors that lack the file,
// whether it comes from the holders' own pool (cached) or from a pass
// over the pool (cache full), for clients of every set (https, IPv6),
// placed by country, by city or not at all.
func TestRankAmongHolders(t *testing.T) {
	countries := []struct {
		cc, cont string
		lat, lon float64
	}{{"DE", "EU", 51, 9}, {"FR", "EU", 47, 2}, {"US", "NA", 39, -98}, {"JP", "AS", 36, 138}}
	ms := make([]Mirror, 300)
	for i := range ms {
		k := countries[i%len(countries)]
		ms[i] = Mirror{Name: fmt.Sprintf("m%d", i), Effective: float64(1 + i%5), HTTPS: i%3 != 0, IPv6: i%2 == 0,
			Country: k.cc, Continent: k.cont, Lat: k.lat + float64(i%7), Lon: k.lon - float64(i%5), HasLoc: true}
	}
	masks := [][]uint64{}
	for _, every := range []int{2, 7} {
		m := make([]uint64, 5)
		for i := 0; i < len(ms); i += every {
			m[i/64] |= 1 << (i % 64)
		}
		masks = append(masks, m)
	}
	var clients []Client
	for _, a := range []string{"192.0.2.1", "2001:db8::1"} {
		for _, secure := range []bool{false, true} {
			clients = append(clients, Client{IP: ip(a), Secure: secure},
				Client{IP: ip(a), Secure: secure, Country: "FR", Continent: "EU", Lat: 46.6, Lon: 2.4, HasLoc: true},
				Client{IP: ip(a), Secure: secure, Country: "FR", Continent: "EU", Lat: 48.85, Lon: 2.35, HasLoc: true, Precise: true})
		}
	}
	for _, s := range []Strategy{new(Random), new(RoundRobin), new(Geo)} {
		for _, full := range []bool{false, true} {
			p := NewPool(PoolSpec{Strategy: s, Mirrors: ms})
			if full {
				// 64 other sets of holders fill the cache.
				var others [][]uint64
				for k := range maxRestricted {
					others = append(others, []uint64{uint64(k + 1), 0, 0, 0, 0})
				}
				p.Prepare(others)
			}
			for _, only := range masks {
				for _, c := range clients {
					var want []int
					for _, i := range Rank(p, c, nil, 0) {
						if allowed(only, i) {
							want = append(want, i)
						}
					}
					c.Only = only
					if got := Rank(p, c, nil, 0); !slices.Equal(got, want) {
						t.Fatalf("%T (cache full %v), client %v secure %v: order among holders %v…; want %v…", s, full, c.IP, c.Secure, got[:min(6, len(got))], want[:min(6, len(want))])
					}
					if got := Rank(p, c, nil, 4); !slices.Equal(got, want[:4]) {
						t.Fatalf("%T (cache full %v): first four %v; want %v", s, full, got, want[:4])
					}
					if m, got, err := PickRank(context.Background(), p, c, nil, 4); err != nil || !allowed(only, m.Index) || !slices.Equal(got, want[:4]) {
						t.Fatalf("%T (cache full %v): PickRank %v %v %v; want a holder and %v", s, full, m, got, err, want[:4])
					}
				}
			}
		}
	}
}
