package strategy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// testPool builds a pool of mirrors m0, m1 … with the given effective weights.
func testPool(s Strategy, weights ...float64) *Pool {
	ms := make([]Mirror, len(weights))
	for i, w := range weights {
		ms[i] = Mirror{Name: fmt.Sprintf("m%d", i), URL: fmt.Sprintf("http://m%d.example", i), Weight: w, Effective: w}
	}
	return NewPool(PoolSpec{Name: "test", Strategy: s, Mirrors: ms})
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestRandomDistribution(t *testing.T) {
	tests := []struct {
		name    string
		weights []float64
	}{
		{"1:2:3", []float64{1, 2, 3}},
		{"equal", []float64{1, 1, 1, 1}},
		{"fractional", []float64{0.25, 0.5, 0.25}},
		{"zero is skipped", []float64{0, 1, 3}},
	}
	const draws = 10000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPool(&Random{rand: rand.New(rand.NewPCG(1, 2)).Uint64}, tt.weights...)
			got := make([]int, len(tt.weights))
			for range draws {
				m, err := p.Strategy.Pick(context.Background(), p, Client{})
				if err != nil {
					t.Fatalf("Pick: %v", err)
				}
				got[m.Index]++
			}
			checkShares(t, got, tt.weights, 0.05)
		})
	}
}

// checkShares fails when a count is off its weight's share by more than
// tol (relative), or when a zero weight got anything.
func checkShares(t *testing.T, got []int, weights []float64, tol float64) {
	t.Helper()
	var total, sum float64
	for i := range got {
		total += float64(got[i])
		sum += weights[i]
	}
	for i, w := range weights {
		want := total * w / sum
		if w == 0 {
			if got[i] != 0 {
				t.Errorf("mirror %d with weight 0 got %d picks", i, got[i])
			}
			continue
		}
		if math.Abs(float64(got[i])-want)/want > tol {
			t.Errorf("mirror %d: %d picks; want %.0f ± %.0f%% (weights %v, counts %v)", i, got[i], want, tol*100, weights, got)
		}
	}
}

// TestRoundRobinCycle walks whole cycles of random weight sets, integral
// and fractional: each mirror gets exactly its integer weight per cycle,
// and no mirror waits more than 3× its fair gap (cycle/weight) between two
// visits, the lightest included.
func TestRoundRobinCycle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		w := make([]float64, 2+r.IntN(30))
		for i := range w {
			if trial%2 == 0 {
				w[i] = float64(1 + r.IntN(20))
			} else {
				w[i] = 0.01 + 10*r.Float64()
			}
		}
		c := newCycle(w)
		if c.total > 2_000_000 {
			continue
		}
		count := make([]uint64, len(w))
		first, last, gap := make([]uint64, len(w)), make([]uint64, len(w)), make([]uint64, len(w))
		for n := range c.total {
			k := c.at(n)
			if count[k] == 0 {
				first[k] = n
			} else {
				gap[k] = max(gap[k], n-last[k])
			}
			last[k] = n
			count[k]++
		}
		for k := range w {
			want := c.cum[k]
			if k > 0 {
				want -= c.cum[k-1]
			}
			if count[k] != want {
				t.Fatalf("weights %v: mirror %d visited %d times in a cycle of %d; want %d", w, k, count[k], c.total, want)
			}
			g := max(gap[k], first[k]+c.total-last[k]) // around the cycle's end
			if fair := float64(c.total) / float64(want); float64(g) > 3*fair {
				t.Errorf("weights %v: mirror %d waits up to %d positions; fair gap %.1f", w, k, g, fair)
			}
		}
	}
}

// TestCycleIndex checks the bucket index of cycle.at against a search
// over every mirror, for pools up to 10,000 mirrors with weights even,
// spread, and heavy-tailed (one mirror far heavier than the rest, so that
// one bucket holds many light mirrors).
func TestCycleIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := range 60 {
		w := make([]float64, 2+r.IntN(10_000))
		for i := range w {
			switch trial % 3 {
			case 0:
				w[i] = float64(1 + r.IntN(3))
			case 1:
				w[i] = 0.01 + 10*r.Float64()
			default:
				w[i] = 1
			}
		}
		if trial%3 == 2 {
			w[r.IntN(len(w))] = 1e6
		}
		c := newCycle(w)
		for range 20_000 {
			n := r.Uint64()
			tt := n % c.total * c.step % c.total
			want := sort.Search(len(c.cum), func(k int) bool { return c.cum[k] > tt })
			if got := c.at(n); got != want {
				t.Fatalf("%d mirrors, trial %d: position %d (t=%d) → mirror %d; want %d", len(w), trial, n, tt, got, want)
			}
		}
	}
}

func TestRoundRobinWindow(t *testing.T) {
	tests := []struct {
		name    string
		weights []float64
	}{
		{"equal", []float64{1, 1, 1}},
		{"5 1 1", []float64{5, 1, 1}},
		{"1 2 3", []float64{1, 2, 3}},
		{"with zero", []float64{3, 0, 2, 7}},
		{"large", []float64{100, 1, 37, 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPool(new(RoundRobin), tt.weights...)
			var sum int
			for _, w := range tt.weights {
				sum += int(w)
			}
			seq := make([]int, 3*sum)
			for i := range seq {
				m, err := p.Strategy.Pick(context.Background(), p, Client{})
				if err != nil {
					t.Fatal(err)
				}
				seq[i] = m.Index
			}
			// Every window of sum consecutive picks, starting anywhere,
			// holds each mirror exactly weight times.
			for start := 0; start+sum <= len(seq); start++ {
				counts := make([]int, len(tt.weights))
				for _, i := range seq[start : start+sum] {
					counts[i]++
				}
				for i, w := range tt.weights {
					if counts[i] != int(w) {
						t.Fatalf("window at %d: mirror %d picked %d times; want %v (counts %v)", start, i, counts[i], w, counts)
					}
				}
			}
		})
	}
}

func TestRoundRobinFractionalWeights(t *testing.T) {
	p := testPool(new(RoundRobin), 0.83, 1, 0.5)
	got := make([]int, 3)
	for range 2330 {
		m, _ := p.Strategy.Pick(context.Background(), p, Client{})
		got[m.Index]++
	}
	checkShares(t, got, []float64{0.83, 1, 0.5}, 0.01)
}

func TestIntegerWeights(t *testing.T) {
	tests := []struct {
		in   []float64
		want []uint64
	}{
		{[]float64{5, 1, 1}, []uint64{5, 1, 1}},
		{[]float64{2, 4, 6}, []uint64{1, 2, 3}},
		{[]float64{0.5, 1}, []uint64{1, 2}},
		{[]float64{0.83, 1}, []uint64{54395, 65536}},
		{[]float64{1e-9, 1}, []uint64{1, 65536}},
		{[]float64{5e9, 5e9, 1}, []uint64{65536, 65536, 1}},
	}
	for _, tt := range tests {
		got := integerWeights(tt.in)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("integerWeights(%v) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestIPHashSticky(t *testing.T) {
	p := testPool(new(IPHash), 1, 1, 1, 1)
	for _, a := range []string{"192.0.2.1", "198.51.100.77", "2001:db8::1", "10.1.2.3"} {
		first, _ := p.Strategy.Pick(context.Background(), p, Client{IP: ip(a)})
		for range 20 {
			m, _ := p.Strategy.Pick(context.Background(), p, Client{IP: ip(a)})
			if m != first {
				t.Fatalf("Pick(%s) = %s, then %s; want the same mirror", a, first.Name, m.Name)
			}
		}
	}
}

func TestIPHashPrefix(t *testing.T) {
	ms := []Mirror{{Name: "a", Effective: 1}, {Name: "b", Effective: 1}, {Name: "c", Effective: 1}, {Name: "d", Effective: 1}}
	p := NewPool(PoolSpec{Strategy: new(IPHash), Mirrors: ms, IPv4Prefix: 24, IPv6Prefix: 48})
	for _, pair := range [][2]string{{"192.0.2.1", "192.0.2.254"}, {"2001:db8:1::1", "2001:db8:1:ffff::9"}} {
		a, _ := p.Strategy.Pick(context.Background(), p, Client{IP: ip(pair[0])})
		b, _ := p.Strategy.Pick(context.Background(), p, Client{IP: ip(pair[1])})
		if a != b {
			t.Errorf("%s and %s share a prefix but got %s and %s", pair[0], pair[1], a.Name, b.Name)
		}
	}
	// Mapped IPv4 is the same client as plain IPv4.
	a, _ := p.Strategy.Pick(context.Background(), p, Client{IP: ip("192.0.2.9")})
	b, _ := p.Strategy.Pick(context.Background(), p, Client{IP: ip("::ffff:192.0.2.9")})
	if a != b {
		t.Errorf("192.0.2.9 and ::ffff:192.0.2.9 got %s and %s", a.Name, b.Name)
	}
}

// TestIPHashDisruption measures how many clients move when one mirror
// of N leaves, joins, or changes weight by 10%, at N = 5, 100, 1,000 and
// 4,000 (32 groups, then 128), with equal and uneven weights. One-level
// rendezvous would move exactly the leaving mirror's clients (1/N with
// equal weights); the two levels that make a pick O(√N) move as many
// others again, from its group, less the mirror's part of the group:
// (2 - w/W_group)·share, under 2/N. Every case must stay under twice
// the mirror's share (2/N with equal weights), and a weight change under
// twice the share that changed, within four standard deviations of the
// count of the sampled clients that move (a mirror of 4,000 has 20 of
// the 50,000).
func TestIPHashDisruption(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{5, 100, 1000, 4000} {
		for _, uneven := range []bool{false, true} {
			ws := make([]float64, n)
			for i := range ws {
				ws[i] = 1
				if uneven {
					ws[i] = 0.5 + 2*r.Float64()
				}
			}
			keys := make([]netip.Addr, 50000)
			for i := range keys {
				keys[i] = netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
			}
			var total float64
			for _, w := range ws {
				total += w
			}
			// bound is twice share, and the sampling error of moved.
			bound := func(share float64) float64 {
				return 2*share + 4*math.Sqrt(2*share/float64(len(keys)))
			}
			moved := func(a, b *Pool) float64 {
				m := 0
				for _, k := range keys {
					x, _ := a.Strategy.Pick(context.Background(), a, Client{IP: k})
					y, _ := b.Strategy.Pick(context.Background(), b, Client{IP: k})
					if x.Name != y.Name {
						m++
					}
				}
				return float64(m) / float64(len(keys))
			}
			all := testPool(new(IPHash), ws...)
			j := n / 2
			// Leaves: the pool is configured with it, and it is down.
			down := append([]float64(nil), ws...)
			down[j] = 0
			share := ws[j] / total
			if got := moved(all, testPool(new(IPHash), down...)); got > bound(share) {
				t.Errorf("N=%d uneven=%v: mirror %d (share %.4f) going down moved %.4f of the clients; want at most %.4f", n, uneven, j, share, got, bound(share))
			} else {
				t.Logf("N=%d uneven=%v: one mirror (share %.4f) down moves %.4f (%.2f× its share)", n, uneven, share, got, got/share)
			}
			// Joins: a mirror added to the configuration.
			joined := testPool(new(IPHash), append(append([]float64(nil), ws...), 1)...)
			share = 1 / (total + 1)
			if got := moved(all, joined); got > bound(share) {
				t.Errorf("N=%d uneven=%v: a mirror (share %.4f) joining moved %.4f; want at most %.4f", n, uneven, share, got, bound(share))
			}
			// Weight +10%: about a tenth of its share changes hands.
			heavier := append([]float64(nil), ws...)
			heavier[j] *= 1.1
			delta := heavier[j]/(total+0.1*ws[j]) - ws[j]/total
			if got := moved(all, testPool(new(IPHash), heavier...)); got > bound(delta) {
				t.Errorf("N=%d uneven=%v: weight +10%% (share +%.5f) moved %.5f", n, uneven, delta, got)
			}
		}
	}
}

func TestIPHashWeights(t *testing.T) {
	weights := []float64{1, 2, 3}
	p := testPool(new(IPHash), weights...)
	got := make([]int, 3)
	r := rand.New(rand.NewPCG(5, 6))
	for range 30000 {
		a := netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
		m, _ := p.Strategy.Pick(context.Background(), p, Client{IP: a})
		got[m.Index]++
	}
	checkShares(t, got, weights, 0.05)
}

func TestIPHashProcessIndependent(t *testing.T) {
	// Fixed expectations: a change of hash that makes replicas disagree
	// across versions or processes fails here.
	p := testPool(new(IPHash), 1, 1, 1, 1, 1)
	var got []string
	for _, a := range []string{"192.0.2.1", "192.0.2.2", "198.51.100.1", "2001:db8::1"} {
		m, _ := p.Strategy.Pick(context.Background(), p, Client{IP: ip(a)})
		got = append(got, m.Name)
	}
	if k1, k2 := hashString("m0"), mix(fnvBytes(fnvOffset, []byte("m0"))); k1 != k2 {
		t.Fatalf("hashString disagrees with fnvBytes: %x vs %x", k1, k2)
	}
	// FNV-1a of "a" is documented: 0xaf63dc4c8601ec8c.
	if h := fnvBytes(fnvOffset, []byte("a")); h != 0xaf63dc4c8601ec8c {
		t.Fatalf("fnv1a(a) = %x; want af63dc4c8601ec8c", h)
	}
	want := pinnedIPHash
	if strings.Join(got, " ") != want {
		t.Errorf("picks = %q; want %q (the hash changed: replicas of different versions would disagree)", strings.Join(got, " "), want)
	}
}

// pinnedIPHash is the expected output of TestIPHashProcessIndependent.
const pinnedIPHash = "m0 m1 m4 m3"

func TestNoUsableMirror(t *testing.T) {
	for _, s := range []Strategy{new(Random), new(RoundRobin), new(IPHash)} {
		for _, weights := range [][]float64{{0, 0}, {}} {
			p := testPool(s, weights...)
			if _, err := s.Pick(context.Background(), p, Client{IP: ip("192.0.2.1")}); !errors.Is(err, ErrNoMirror) {
				t.Errorf("%T.Pick(weights %v) error = %v; want ErrNoMirror", s, weights, err)
			}
		}
	}
}

func TestZeroWeightNeverPicked(t *testing.T) {
	for _, s := range []Strategy{new(Random), new(RoundRobin), new(IPHash)} {
		p := testPool(s, 0, 1, 0, 2)
		for i := range 2000 {
			a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
			m, err := s.Pick(context.Background(), p, Client{IP: a})
			if err != nil {
				t.Fatal(err)
			}
			if m.Effective == 0 {
				t.Fatalf("%T picked %s with weight 0", s, m.Name)
			}
		}
	}
}

func TestSecureAndIPv6Preference(t *testing.T) {
	ms := []Mirror{
		{Name: "plain4", Effective: 1},
		{Name: "tls4", Effective: 1, HTTPS: true},
		{Name: "plain6", Effective: 1, IPv6: true},
		{Name: "tls6", Effective: 1, HTTPS: true, IPv6: true},
	}
	tests := []struct {
		name   string
		client Client
		allow  []string
	}{
		{"plain v4", Client{IP: ip("192.0.2.1")}, []string{"plain4", "tls4", "plain6", "tls6"}},
		{"secure v4", Client{IP: ip("192.0.2.1"), Secure: true}, []string{"tls4", "tls6"}},
		{"plain v6", Client{IP: ip("2001:db8::1")}, []string{"plain6", "tls6"}},
		{"secure v6", Client{IP: ip("2001:db8::1"), Secure: true}, []string{"tls6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range []Strategy{new(Random), new(RoundRobin), new(IPHash)} {
				p := NewPool(PoolSpec{Strategy: s, Mirrors: ms})
				for range 50 {
					m, _ := s.Pick(context.Background(), p, tt.client)
					if !contains(tt.allow, m.Name) {
						t.Fatalf("%T.Pick = %s; want one of %v", s, m.Name, tt.allow)
					}
				}
			}
		})
	}
	// With no https mirror usable, a secure client still gets a mirror.
	p := NewPool(PoolSpec{Strategy: new(Random), Mirrors: ms[:1]})
	if m, err := p.Strategy.Pick(context.Background(), p, Client{Secure: true}); err != nil || m.Name != "plain4" {
		t.Errorf("secure client with only plain mirrors: got %v, %v; want plain4", m, err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestRank(t *testing.T) {
	p := testPool(new(Random), 1, 3, 0, 2)
	got := Rank(p, Client{}, nil, 0)
	if fmt.Sprint(got) != "[1 3 0]" {
		t.Errorf("Rank = %v; want [1 3 0] (heaviest first, weight 0 left out)", got)
	}
	if got := Rank(p, Client{}, nil, 2); fmt.Sprint(got) != "[1 3]" {
		t.Errorf("Rank(limit 2) = %v; want [1 3]", got)
	}
	h := testPool(new(IPHash), 1, 1, 1)
	c := Client{IP: ip("192.0.2.1")}
	first, _ := h.Strategy.Pick(context.Background(), h, c)
	if r := Rank(h, c, nil, 0); len(r) != 3 || r[0] != first.Index {
		t.Errorf("IPHash Rank = %v; want 3 entries starting with the pick %d", r, first.Index)
	}
}

func TestConcurrentPickAndStore(t *testing.T) {
	var st State
	st.Store(NewSnapshot([]*Pool{testPool(new(RoundRobin), 1, 2, 3)}, 0, time.Time{}))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				p := st.Load().Pools[0]
				c := Client{IP: netip.AddrFrom4([4]byte{10, byte(g), byte(i >> 8), byte(i)})}
				for _, s := range []Strategy{new(Random), new(RoundRobin), new(IPHash)} {
					if _, err := s.Pick(context.Background(), p, c); err != nil && !errors.Is(err, ErrNoMirror) {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	for i := range 200 {
		st.Store(NewSnapshot([]*Pool{testPool(new(RoundRobin), float64(i%3), 1, 2)}, uint64(i), time.Time{}))
	}
	wg.Wait()
}

func ExampleRoundRobin_Pick() {
	p := NewPool(PoolSpec{
		Strategy: new(RoundRobin),
		Mirrors: []Mirror{
			{Name: "a", Effective: 5},
			{Name: "b", Effective: 1},
			{Name: "c", Effective: 1},
		},
	})
	for range 7 {
		m, _ := p.Strategy.Pick(context.Background(), p, Client{})
		fmt.Print(m.Name, " ")
	}
	fmt.Println()
	// Output: a a a b a c a
}

func benchPool(s Strategy, n int) *Pool {
	ms := make([]Mirror, n)
	for i := range ms {
		w := float64(1 + i%3)
		ms[i] = Mirror{Name: fmt.Sprintf("mirror-%d", i), Weight: w, Effective: w}
	}
	return NewPool(PoolSpec{Strategy: s, Mirrors: ms})
}

func BenchmarkPick(b *testing.B) {
	for _, s := range []struct {
		name string
		s    Strategy
	}{{"random", new(Random)}, {"roundrobin", new(RoundRobin)}, {"iphash", new(IPHash)}} {
		for _, n := range []int{3, 100, 10000} {
			b.Run(fmt.Sprintf("%s/%d", s.name, n), func(b *testing.B) {
				p := benchPool(s.s, n)
				c := Client{IP: ip("192.0.2.1")}
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := s.s.Pick(ctx, p, c); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkNewPool builds a round-robin pool with fractional effective
// weights, as SNMP headroom makes them, at 10, 1,000 and 10,000 mirrors:
// what every reload and every feedback change pays.
func BenchmarkNewPool(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			ms := make([]Mirror, n)
			for i := range ms {
				w := 0.05 + r.Float64()
				ms[i] = Mirror{Name: fmt.Sprintf("mirror-%d", i), HTTPS: i%2 == 0, IPv6: i%3 == 0, Weight: 1, Effective: w}
			}
			spec := PoolSpec{Name: "bench", Strategy: new(RoundRobin), Mirrors: ms}
			b.ReportAllocs()
			for b.Loop() {
				NewPool(spec)
			}
		})
	}
}

func TestAliasTablesExact(t *testing.T) {
	for _, weights := range [][]float64{{1, 2, 3}, {0.1, 5, 0.2, 7, 1}, {1, 1, 2}, {1000, 1}} {
		p := testPool(new(Random), weights...)
		s := p.sets[0]
		n := float64(len(s.idx))
		implied := make([]float64, len(s.idx))
		for col := range s.idx {
			keep := float64(s.prob[col]) / (1 << 32)
			if s.prob[col] == math.MaxUint32 {
				keep = 1
			}
			implied[col] += keep / n
			implied[s.alias[col]] += (1 - keep) / n
		}
		for k, w := range s.w {
			if want := w / s.total; math.Abs(implied[k]-want) > 1e-6 {
				t.Errorf("weights %v: mirror %d has probability %.7f; want %.7f", weights, k, implied[k], want)
			}
		}
	}
}

// TestIPHashRankOrder: ip hash's failover order starts with the pick, the
// Link header's first four are the order's first four (without sorting
// every group), the order holds every usable mirror once, and under a
// file's holders it is the order of a pool of the holders alone, whose
// first is the pick.
func TestIPHashRankOrder(t *testing.T) {
	for _, n := range []int{3, 40, 700} {
		ws := make([]float64, n)
		for i := range ws {
			ws[i] = float64(1 + i%4)
		}
		ws[1] = 0 // one unusable
		p := testPool(new(IPHash), ws...)
		holders := make([]uint64, (n+63)/64)
		for i := 0; i < n; i += 3 {
			holders[i/64] |= 1 << (i % 64)
		}
		r := rand.New(rand.NewPCG(uint64(n), 9))
		for range 200 {
			a := netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
			c := Client{IP: a}
			full := Rank(p, c, nil, 0)
			m, _ := p.Strategy.Pick(context.Background(), p, c)
			if len(full) != n-1 || full[0] != m.Index || slices.Contains(full, 1) {
				t.Fatalf("N=%d %s: order %v (len %d), pick %d", n, a, full[:min(5, len(full))], len(full), m.Index)
			}
			seen := map[int]bool{}
			for _, i := range full {
				if seen[i] {
					t.Fatalf("N=%d: %d twice in the order", n, i)
				}
				seen[i] = true
			}
			if top := Rank(p, c, nil, 4); !slices.Equal(top, full[:min(4, len(full))]) {
				t.Fatalf("N=%d %s: first four %v; the order starts %v", n, a, top, full[:4])
			}
			c.Only = holders
			// Among holders: the order of a pool of the holders alone.
			var want []int
			var hs []Mirror
			for i := range p.Mirrors {
				if c.Allows(i) {
					hs = append(hs, p.Mirrors[i])
				}
			}
			hp := NewPool(PoolSpec{Strategy: new(IPHash), Mirrors: hs})
			for _, i := range Rank(hp, Client{IP: a}, nil, 0) {
				want = append(want, hs[i].Index)
			}
			if m, _ := p.Strategy.Pick(context.Background(), p, c); m.Index != want[0] {
				t.Fatalf("N=%d %s: pick among holders %d; want the order's first %d", n, a, m.Index, want[0])
			}
			if got := Rank(p, c, nil, 0); !slices.Equal(got, want) {
				t.Fatalf("N=%d %s: order among holders %v; want %v", n, a, got[:min(5, len(got))], want[:min(5, len(want))])
			}
			if got := Rank(p, c, nil, 4); !slices.Equal(got, want[:min(4, len(want))]) {
				t.Fatalf("N=%d %s: first four holders %v; want %v", n, a, got, want[:4])
			}
		}
	}
}

// TestNegLnUnit: the table logarithm ip hash scores with agrees with
// math.Log to 2e-7 over the whole range of hashes, at both ends too.
func TestNegLnUnit(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	check := func(h uint64) {
		u := float64(h|1) / (1 << 64)
		want := -math.Log(u)
		if got := negLnUnit(h); math.Abs(got-want) > 2e-7 {
			t.Fatalf("negLnUnit(%#x) = %.12g; -ln(%g) = %.12g", h, got, u, want)
		}
	}
	for _, h := range []uint64{0, 1, 2, 1 << 32, 1<<63 - 1, 1 << 63, math.MaxUint64 - 1, math.MaxUint64} {
		check(h)
	}
	for range 1_000_000 {
		check(r.Uint64() >> r.IntN(64))
	}
	for m := 1.0; m <= 2; m += 1.0 / 4096 {
		if got, want := lnSeries(m), math.Log(m); math.Abs(got-want) > 1e-11 {
			t.Fatalf("lnSeries(%g) = %.15g; want %.15g", m, got, want)
		}
	}
}
