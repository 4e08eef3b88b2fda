package strategy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
)

// ruledMirrors is a pool of mirrors with every eligibility rule, beside
// one without any.
func ruledMirrors() []Mirror {
	return []Mirror{
		{Name: "open", Country: "US", Continent: "NA", Weight: 1, Effective: 1, IPv6: true},
		{Name: "de-only", Country: "DE", Continent: "EU", Only: OwnCountry, Weight: 1, Effective: 1, IPv6: true},
		{Name: "eu-only", Country: "FR", Continent: "EU", Only: OwnContinent, Weight: 1, Effective: 1},
		{Name: "not-ru", Country: "FI", Continent: "EU", ExcludeCountries: []string{"RU", "BY"}, Weight: 1, Effective: 1},
		{Name: "v6-only", Country: "NL", Continent: "EU", IPv6Only: true, IPv6: true, Weight: 1, Effective: 1},
		{Name: "campus", Country: "DE", Continent: "EU", Only: OwnNetworks, Weight: 1, Effective: 1,
			Networks: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8:1::/48")}},
		{Name: "isp", Country: "DE", Continent: "EU", Only: OwnASNs, ASNs: []uint32{3320}, Weight: 1, Effective: 1},
	}
}

// ruledClients are clients each rule treats differently.
var ruledClients = []Client{
	{IP: ip("192.0.2.7"), Country: "DE", Continent: "EU", ASN: 3320},
	{IP: ip("198.51.100.1"), Country: "DE", Continent: "EU", ASN: 680},
	{IP: ip("203.0.113.9"), Country: "RU", Continent: "EU"},
	{IP: ip("2001:db8:1::5"), Country: "US", Continent: "NA"},
	{IP: ip("2001:db8:2::5"), Country: "BY", Continent: "EU", ASN: 3320},
	{IP: ip("100.64.0.1")}, // placed by no database
}

// TestEligibleEveryStrategy: under every strategy a client gets only
// mirrors the rules let it have, picks and Link orders alike, with and
// without a file's holders; each eligible mirror gets some of the random
// picks; and a client no usable mirror is eligible for gets ErrNoMirror.
func TestEligibleEveryStrategy(t *testing.T) {
	for _, st := range []string{"random", "roundrobin", "iphash", "geo"} {
		s, _ := ByName(st)
		p := NewPool(PoolSpec{Name: "ruled", Strategy: s, Mirrors: ruledMirrors()})
		for _, base := range ruledClients {
			for _, holders := range [][]uint64{nil, {0b1111110}} {
				c := base
				c.Only = holders
				c.Only = p.Eligible(&c, nil)
				want := map[string]bool{}
				for i := range p.Mirrors {
					m := &p.Mirrors[i]
					if m.Excluded(&base) == "" && allowed(holders, i) {
						want[m.Name] = true
					}
				}
				got := map[string]bool{}
				for k := range 400 {
					cl := c
					cl.IP = base.IP
					if st == "iphash" && base.IP.Is4() {
						// Many addresses of the same place: the rules
						// depend on the place, the hash on the address.
						a := base.IP.As4()
						a[3] = byte(k)
						if !slices.Contains(p.Mirrors[5].Networks, netip.PrefixFrom(base.IP, 24).Masked()) {
							cl.IP = netip.AddrFrom4(a)
						}
					}
					m, ranked, err := PickRank(context.Background(), p, cl, nil, 4)
					if len(want) == 0 {
						if !errors.Is(err, ErrNoMirror) {
							t.Fatalf("%s: client %v holders %b: %v, %v; want ErrNoMirror", st, base.IP, holders, m, err)
						}
						break
					}
					if err != nil || !want[m.Name] {
						t.Fatalf("%s: client %v (%s, AS%d) holders %b got %v (%v); eligible: %v", st, base.IP, base.Country, base.ASN, holders, m, err, want)
					}
					got[m.Name] = true
					for _, i := range ranked {
						if !want[p.Mirrors[i].Name] {
							t.Fatalf("%s: client %v: Link order names %s, which the rules exclude", st, base.IP, p.Mirrors[i].Name)
						}
					}
				}
				// (An IPv6 client's picks go to the IPv6 mirrors first.)
				if st == "random" && base.IP.Is4() && len(got) != len(want) {
					t.Errorf("random: client %v holders %b got %v; every one of %v should get picks", base.IP, holders, got, want)
				}
			}
		}
	}
}

// TestExcluded names the rule for each mirror and client.
func TestExcluded(t *testing.T) {
	ms := ruledMirrors()
	want := map[string][]string{ // per client of ruledClients, per mirror
		"192.0.2.7":     {"", "", "", "", "family", "", ""},
		"198.51.100.1":  {"", "", "", "", "family", "only", "only"},
		"203.0.113.9":   {"", "only", "", "excluded_country", "family", "only", "only"},
		"2001:db8:1::5": {"", "only", "only", "", "", "", "only"},
		"2001:db8:2::5": {"", "only", "", "excluded_country", "", "only", ""},
		"100.64.0.1":    {"", "only", "only", "", "family", "only", "only"},
	}
	for _, c := range ruledClients {
		for i := range ms {
			if got := ms[i].Excluded(&c); got != want[c.IP.String()][i] {
				t.Errorf("%s for %v: %q; want %q", ms[i].Name, c.IP, got, want[c.IP.String()][i])
			}
			if rule := ms[i].Excluded(&c); rule != "" && ms[i].ExclusionReason(rule, &c) == "" {
				t.Errorf("%s for %v: no reason for %s", ms[i].Name, c.IP, rule)
			}
		}
	}
	c := ruledClients[1]
	if r := ms[6].ExclusionReason(RuleOnly, &c); r != "serves only clients in AS3320; this client is in AS680" {
		t.Errorf("reason = %q", r)
	}
}

// TestEligibleCosts: a pool without rules leaves a client's mask alone
// (no work), a ruled one builds its mask in the caller's buffer without
// allocating, and a client every rule admits keeps its mask too.
func TestEligibleCosts(t *testing.T) {
	plain := testPool(new(Random), 1, 2, 3)
	holders := []uint64{0b101}
	c := Client{IP: ip("192.0.2.1"), Only: holders}
	if got := plain.Eligible(&c, nil); &got[0] != &holders[0] {
		t.Error("a pool without rules built a mask")
	}
	p := NewPool(PoolSpec{Strategy: new(Random), Mirrors: ruledMirrors()})
	admitted := Client{IP: ip("192.0.2.7"), Country: "DE", Continent: "EU", ASN: 3320, Only: []uint64{0b1101111}}
	admitted.IP = ip("2001:db8:1::9") // IPv6: the IPv6-only mirror too; in the campus; AS 3320
	admitted.ASN = 3320
	if got := p.Eligible(&admitted, nil); &got[0] != &admitted.Only[0] {
		t.Errorf("a client every rule admits got a new mask %b", got)
	}
	var buf [4]uint64
	c = ruledClients[2]
	if n := testing.AllocsPerRun(100, func() { p.Eligible(&c, buf[:0]) }); n != 0 {
		t.Errorf("Eligible allocates %v times", n)
	}
	if got := p.Eligible(&c, buf[:0]); got[0] != 0b0000101 {
		t.Errorf("mask for a Russian IPv4 client = %07b; want 0000101", got[0])
	}
}

// TestGeoLocalTiers: geo sends a client to the mirrors whose networks
// hold its address (the most specific prefix first), else to those of
// its AS, before its country; explain names the tiers, and the Link
// order starts with them.
func TestGeoLocalTiers(t *testing.T) {
	ms := []Mirror{
		{Name: "de", Country: "DE", Continent: "EU", Weight: 5, Effective: 5},
		{Name: "isp", Country: "FR", Continent: "EU", ASNs: []uint32{3320}, Weight: 1, Effective: 1},
		{Name: "wide", Country: "US", Continent: "NA", Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Weight: 1, Effective: 1},
		{Name: "narrow", Country: "JP", Continent: "AS", Networks: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, Weight: 1, Effective: 1},
	}
	p := NewPool(PoolSpec{Strategy: new(Geo), Mirrors: ms})
	tests := []struct {
		c     Client
		want  string
		tiers []string
	}{
		{Client{IP: ip("10.1.2.3"), Country: "DE", Continent: "EU", ASN: 3320}, "narrow", []string{"country", "asn", "network", "network"}},
		{Client{IP: ip("10.2.2.3"), Country: "DE", Continent: "EU", ASN: 3320}, "wide", []string{"country", "asn", "network", "world"}},
		{Client{IP: ip("192.0.2.1"), Country: "DE", Continent: "EU", ASN: 3320}, "isp", []string{"country", "asn", "world", "world"}},
		{Client{IP: ip("192.0.2.1"), Country: "DE", Continent: "EU", ASN: 680}, "de", []string{"country", "continent", "world", "world"}},
		{Client{IP: ip("10.1.0.9")}, "narrow", []string{"world", "world", "network", "network"}}, // placed by no database
		{Client{IP: ip("192.0.2.1"), ASN: 3320}, "isp", []string{"world", "asn", "world", "world"}},
	}
	for _, tt := range tests {
		for range 50 {
			m, ranked, err := PickRank(context.Background(), p, tt.c, nil, 4)
			if err != nil || m.Name != tt.want {
				t.Fatalf("client %v AS%d: %v %v; want %s", tt.c.IP, tt.c.ASN, m, err, tt.want)
			}
			if p.Mirrors[ranked[0]].Name != tt.want {
				t.Fatalf("client %v AS%d: Link order starts with %s; want %s", tt.c.IP, tt.c.ASN, p.Mirrors[ranked[0]].Name, tt.want)
			}
		}
		shares, _ := Shares(p, tt.c)
		var tiers []string
		for _, s := range shares {
			tiers = append(tiers, s.Tier)
		}
		if !slices.Equal(tiers, tt.tiers) {
			t.Errorf("client %v AS%d: tiers %v; want %v", tt.c.IP, tt.c.ASN, tiers, tt.tiers)
		}
		if shares[p.byName[tt.want]].Share != 1 {
			t.Errorf("client %v AS%d: shares %v; want all to %s", tt.c.IP, tt.c.ASN, shares, tt.want)
		}
	}
	// The order of a client in both networks: the narrow, the wide, then
	// its AS, then its country.
	r := Rank(p, tests[0].c, nil, 0)
	var names []string
	for _, i := range r {
		names = append(names, p.Mirrors[i].Name)
	}
	if want := []string{"narrow", "wide", "isp", "de"}; !slices.Equal(names, want) {
		t.Errorf("order %v; want %v", names, want)
	}
	// A local mirror that is down: the next tier.
	ms[3].Effective = 0
	down := NewPool(PoolSpec{Strategy: new(Geo), Mirrors: ms})
	if m, _ := down.Strategy.Pick(context.Background(), down, tests[0].c); m.Name != "wide" {
		t.Errorf("narrow down: %s; want wide", m.Name)
	}
}

// BenchmarkEligible is the rules' cost per request in a pool of 1,000
// mirrors of which 50 have a rule: a client every rule admits, and one
// they exclude from some (the mask is built).
func BenchmarkEligible(b *testing.B) {
	ms := make([]Mirror, 1000)
	for i := range ms {
		ms[i] = Mirror{Name: fmt.Sprintf("m%d", i), Country: "DE", Continent: "EU", Weight: 1, Effective: 1}
		if i%20 == 0 {
			ms[i].Only, ms[i].ASNs = OwnASNs, []uint32{uint32(3000 + i)}
		}
	}
	p := NewPool(PoolSpec{Strategy: new(Random), Mirrors: ms})
	var buf [16]uint64
	for _, tc := range []struct {
		name string
		c    Client
	}{{"excluded-from-some", Client{IP: ip("192.0.2.1"), Country: "DE", ASN: 3020}}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c := tc.c // without the key the last call kept in it
				p.Eligible(&c, buf[:0])
			}
		})
	}
}

// BenchmarkRules is what the rules cost a redirect's pick and Link order
// at 1,000 mirrors, side by side with the same pools without them (the
// request path: Eligible, then PickRank): 50 mirrors serve only their own
// AS, 50 more have a network and an AS for geo's tiers; the client, in
// Germany and AS 3320, is local to none of them.
func BenchmarkRules(b *testing.B) {
	countries := []string{"DE", "FR", "US", "BR", "JP", "AU", "ZA", "IN"}
	continents := map[string]string{"DE": "EU", "FR": "EU", "US": "NA", "BR": "SA", "JP": "AS", "AU": "OC", "ZA": "AF", "IN": "AS"}
	plain := make([]Mirror, 1000)
	for i := range plain {
		cc := countries[i%len(countries)]
		plain[i] = Mirror{Name: fmt.Sprintf("m%d", i), Country: cc, Continent: continents[cc], Weight: float64(1 + i%3), Effective: float64(1 + i%3)}
	}
	ruled := slices.Clone(plain)
	for i := range ruled {
		switch i % 20 {
		case 0:
			ruled[i].Only, ruled[i].ASNs = OwnASNs, []uint32{uint32(64000 + i)}
		case 1:
			ruled[i].Networks = []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i % 250), 0, 0}), 16)}
			ruled[i].ASNs = []uint32{uint32(65000 + i)}
		}
	}
	client := Client{IP: ip("85.214.0.1"), Country: "DE", Continent: "EU", ASN: 3320}
	for _, st := range []string{"random", "geo"} {
		for _, rules := range []bool{false, true} {
			ms := plain
			if rules {
				ms = ruled
			}
			var s Strategy = new(Random)
			if st == "geo" {
				s = new(Geo)
			}
			p := NewPool(PoolSpec{Strategy: s, Mirrors: slices.Clone(ms)})
			b.Run(fmt.Sprintf("%s/rules=%v", st, rules), func(b *testing.B) {
				var buf [16]uint64
				var dst [3]int
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					c := client
					c.Only = p.Eligible(&c, buf[:0])
					if _, _, err := PickRank(ctx, p, c, dst[:0], 3); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestEligibleManyPlaces: clients from more places than the cache has
// slots (every two-letter code, on three continents, in the campus
// network or not over both families, in the isp's AS or not), asked in turn and again, each get the mask of
// their own place: places that share a slot never get each other's.
func TestEligibleManyPlaces(t *testing.T) {
	p := NewPool(PoolSpec{Name: "ruled", Strategy: &Random{}, Mirrors: ruledMirrors()})
	var clients []Client
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			for _, continent := range []string{"EU", "NA", "AS"} {
				// Outside and inside the campus network, over IPv4 and IPv6.
				for k, addr := range []string{"198.51.100.1", "192.0.2.7", "2001:db8:1::9", "2001:db8:2::9"} {
					c := Client{IP: ip(addr), Country: string([]rune{a, b}), Continent: continent}
					if (int(a+b)+k)%2 == 0 {
						c.ASN = 3320 // the isp mirror's
					}
					clients = append(clients, c)
				}
			}
		}
	}
	if len(clients) <= eligSlots {
		t.Fatalf("%d places do not fill %d slots", len(clients), eligSlots)
	}
	for round := range 2 {
		for i := range clients {
			c := clients[i]
			got := p.Eligible(&c, nil)
			for m := range p.Mirrors {
				if want := p.Mirrors[m].Excluded(&clients[i]) == ""; allowed(got, m) != want {
					t.Fatalf("round %d, client %d (%+v): mirror %s allowed %v; want %v", round, i, clients[i], p.Mirrors[m].Name, allowed(got, m), want)
				}
			}
		}
	}
}
