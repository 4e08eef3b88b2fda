// Package strategy chooses a mirror for a client. It is pure: no I/O, no
// logging, no locks on the request path. Pools are built once per change of
// state (NewPool precomputes everything a pick needs) and published as an
// immutable Snapshot through State; a pick only reads.
package strategy

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNoMirror is returned by Pick when no mirror of the pool is usable.
var ErrNoMirror = errors.New("no available mirror")

// Mirror is one mirror as the strategies see it at one instant.
// A Mirror inside a published Pool must not be modified.
//
// What a redirect reads of the mirror it sends to comes first, together
// on one cache line: in a pool of 1,000 mirrors, a pick lands on one
// that is not in the cache. Those fields are its first 56 bytes, and the
// struct is padded to 256: the allocator starts an array of it on a
// 64-byte line, or 8 bytes into one (the type header of a small array
// with pointers, 3 to 127 mirrors), so that every element's 56 bytes
// lie on one line either way (TestMirrorLayout).
type Mirror struct {
	// Index is the mirror's position in Pool.Mirrors (set by NewPool).
	Index int
	// Effective is weight × health × bandwidth headroom; 0 means the
	// mirror is never picked.
	Effective float64
	// Redirects counts the requests sent to this mirror. The counter
	// outlives the pool: every build of the pool shares it (nil: not
	// counted).
	Redirects *atomic.Uint64
	Name      string
	// URL is the base URL the Location starts with.
	URL       string
	Country   string   // ISO 3166-1 alpha-2, upper case; "" when unknown
	Continent string   // AF AN AS EU NA OC SA; "" when unknown
	Countries []string // further countries this mirror serves as if local
	Lat, Lon  float64
	HasLoc    bool
	HTTPS     bool // reachable over https
	IPv6      bool // reachable over IPv6
	IPv6Only  bool // not reachable over IPv4
	// Networks are the client prefixes the mirror serves first and ASNs
	// the autonomous systems it counts as local (geo's nearest tiers).
	Networks []netip.Prefix
	ASNs     []uint32
	// Only restricts the mirror to the clients of its own networks, ASNs,
	// country or continent; ExcludeCountries keeps it from the clients of
	// those countries (eligible.go).
	Only             Locality
	ExcludeCountries []string
	// Weight is the configured weight.
	Weight float64

	_ [mirrorPad]byte
}

// mirrorPad fills a Mirror up to 256 bytes: four cache lines.
const mirrorPad = 32

// Usable reports whether the mirror may be picked. It is the one test the
// strategies use.
func (m *Mirror) Usable() bool { return m.Effective > 0 }

// Client is what the strategies know about the requester.
type Client struct {
	IP        netip.Addr
	Country   string
	Continent string
	// ASN is the client's autonomous system (0: unknown).
	ASN      uint32
	Lat, Lon float64
	HasLoc   bool
	// Precise is set when Lat and Lon come from a city database rather
	// than the country's centroid.
	Precise bool
	// Secure is set when the request arrived over HTTPS: https mirrors are
	// then preferred over plain-http ones.
	Secure bool
	// Only, when not nil, restricts the pick to the mirrors whose bit is
	// set (bit i%64 of Only[i/64] for Pool.Mirrors[i]): those that hold the
	// requested file. Each strategy keeps its rule among them, at O(mirrors)
	// and without allocation.
	Only []uint64
	// place is the cached mask of c's place when Only is it (Eligible).
	place *eligMask
	// local is what c is local to in the networks and ASNs of localIn,
	// once localOf has looked, for the address and AS in localFor (a
	// caller may move the client after: ?as=). A pool of holders shares
	// its parent's index, so the look-up made for the rules serves geo's
	// tiers too.
	local    localKey
	localIn  *localIndex
	localFor localInput
}

// Strategy picks one usable mirror of a pool for a client. Pick must not
// modify p, must not block except on the round-robin Sequence, and is safe
// for concurrent use.
type Strategy interface {
	Pick(ctx context.Context, p *Pool, c Client) (*Mirror, error)
}

// Ranker orders a pool's usable mirrors best first for a client (under
// Client.Only, the allowed ones). It is implemented by strategies whose
// preference depends on the client; the others rank by effective weight.
type Ranker interface {
	Rank(p *Pool, c Client, dst []int, limit int) []int
}

// Snapshot is an immutable view of every pool at one instant. Never modify
// it, or anything it points to, after it is stored in a State.
type Snapshot struct {
	Pools   []*Pool
	Version uint64
	Built   time.Time
	byName  map[string]*Pool
}

// NewSnapshot returns a snapshot of pools.
func NewSnapshot(pools []*Pool, version uint64, built time.Time) *Snapshot {
	s := &Snapshot{Pools: pools, Version: version, Built: built, byName: make(map[string]*Pool, len(pools))}
	for _, p := range pools {
		s.byName[p.Name] = p
	}
	return s
}

// Pool returns the pool named name, or nil.
func (s *Snapshot) Pool(name string) *Pool { return s.byName[name] }

// State publishes snapshots. Load and Store are safe for concurrent use;
// readers see either the old or the new snapshot, never a mix.
type State struct{ p atomic.Pointer[Snapshot] }

// Load returns the current snapshot (nil before the first Store).
func (s *State) Load() *Snapshot { return s.p.Load() }

// Store publishes snap.
func (s *State) Store(snap *Snapshot) { s.p.Store(snap) }

// PoolSpec is what NewPool needs to build a pool.
type PoolSpec struct {
	Name     string
	Strategy Strategy
	Mirrors  []Mirror
	// Seq drives round robin; nil means a fresh in-process sequence.
	Seq Sequence
	// IPv4Prefix and IPv6Prefix are the client address bits the ip hash
	// keys on (default 32 and 64).
	IPv4Prefix, IPv6Prefix int
	// Unserved counts the requests answered without a mirror (nil: not
	// counted); like Mirror.Redirects it outlives the pool.
	Unserved *atomic.Uint64
	// hrwGroups is ip hash's group count (0: hrwGroupsFor the mirrors):
	// a pool of a file's holders takes its parent's.
	hrwGroups int
	// local, when set, is the networks and ASNs geo's tiers are keyed on
	// (nil: the mirrors'): a pool of a file's holders takes its
	// parent's, a superset of its own, which keys the tiers as well.
	local *localIndex
}

// Pool is a set of mirrors and everything precomputed to pick among them.
// It is immutable once built.
type Pool struct {
	Name     string
	Strategy Strategy
	Mirrors  []Mirror
	Seq      Sequence
	Unserved *atomic.Uint64

	byName         map[string]int
	v4bits, v6bits int
	hrwGroups      int      // ip hash's group count
	seeds          []uint64 // per mirror, hash of its name (ip hash)
	points         []point  // per mirror, its coordinates (geo)
	// tiers caches the geo tier per country and client set (tierKey →
	// *cachedTier). It is filled on demand; the pool's mirrors never change.
	tiers sync.Map
	cells atomic.Int32 // cells cached in tiers (at most maxCells)
	// sets[secure|ipv6<<1] lists the mirrors a client may get: https-only
	// for secure clients and IPv6-capable for IPv6 clients, each falling
	// back to the wider set when empty.
	sets [4]*set
	// ranked[k] lists the usable mirrors for sets[k]'s clients: the set's
	// own mirrors by effective weight, heaviest first, then the others.
	ranked [4][]int
	// restricts caches the pools of the holders of a file (restrict.go).
	restricts restrictions
	// elig is what the eligibility rules need (eligible.go), local the
	// networks and ASNs of geo's nearest tiers (nil: none; local.go).
	elig  eligibility
	local *localIndex
}

// set is a group of usable mirrors with its precomputed pick tables.
type set struct {
	idx   []int     // indexes into Pool.Mirrors
	w     []float64 // effective weights, parallel to idx
	total float64
	equal bool        // all weights equal: picks need no tables
	prob  []uint32    // alias method: chance (of 2^32) to keep a column
	alias []int32     // alias method: the column's other outcome
	cycle *cycle      // round-robin schedule over idx (nil when equal)
	hrw   *rendezvous // ip hash's groups (nil for the other strategies)
}

// NewPool builds a pool; ms is copied. It costs O(mirrors log mirrors).
func NewPool(spec PoolSpec) *Pool {
	p := &Pool{
		Name:     spec.Name,
		Strategy: spec.Strategy,
		Mirrors:  append([]Mirror(nil), spec.Mirrors...),
		byName:   make(map[string]int, len(spec.Mirrors)),
		Seq:      spec.Seq,
		Unserved: spec.Unserved,
		v4bits:   spec.IPv4Prefix,
		v6bits:   spec.IPv6Prefix,
	}
	if p.Seq == nil {
		p.Seq = new(LocalSequence)
	}
	if p.hrwGroups = spec.hrwGroups; p.hrwGroups <= 0 {
		p.hrwGroups = hrwGroupsFor(len(p.Mirrors))
	}
	if p.v4bits <= 0 || p.v4bits > 32 {
		p.v4bits = 32
	}
	if p.v6bits <= 0 || p.v6bits > 128 {
		p.v6bits = 64
	}
	p.seeds = make([]uint64, len(p.Mirrors))
	p.points = make([]point, len(p.Mirrors))
	for i := range p.Mirrors {
		p.points[i] = newPoint(p.Mirrors[i].Lat, p.Mirrors[i].Lon)
		p.Mirrors[i].Index = i
		p.byName[p.Mirrors[i].Name] = i
		p.seeds[i] = hashString(p.Mirrors[i].Name)
	}
	p.buildEligibility()
	if p.local = spec.local; p.local == nil {
		p.buildLocal()
	}
	all := p.filter(func(*Mirror) bool { return true })
	secure := p.filter(func(m *Mirror) bool { return m.HTTPS })
	v6 := p.filter(func(m *Mirror) bool { return m.IPv6 })
	both := p.filter(func(m *Mirror) bool { return m.HTTPS && m.IPv6 })
	p.sets[0] = p.newSet(all)
	p.sets[1] = p.newSetOr(secure, p.sets[0])
	p.sets[2] = p.newSetOr(v6, p.sets[0])
	p.sets[3] = p.newSetOr(both, p.newSetOr(secure, p.sets[2]))
	byWeight := append([]int(nil), all...)
	slices.SortStableFunc(byWeight, func(a, b int) int {
		return cmp.Compare(p.Mirrors[b].Effective, p.Mirrors[a].Effective)
	})
	in := make([]bool, len(p.Mirrors))
	for k, s := range p.sets {
		clear(in)
		for _, i := range s.idx {
			in[i] = true
		}
		r := make([]int, 0, len(byWeight))
		for _, i := range byWeight {
			if in[i] {
				r = append(r, i)
			}
		}
		for _, i := range byWeight {
			if !in[i] {
				r = append(r, i)
			}
		}
		p.ranked[k] = r
	}
	return p
}

// Find returns the mirror named name, or nil.
func (p *Pool) Find(name string) *Mirror {
	if name == "" {
		return nil
	}
	if i, ok := p.byName[name]; ok {
		return &p.Mirrors[i]
	}
	return nil
}

// Usable returns the number of usable mirrors.
func (p *Pool) Usable() int { return len(p.sets[0].idx) }

// set returns the group of mirrors client c may be sent to.
func (p *Pool) set(c *Client) *set { return p.sets[setIndex(c)] }

func setIndex(c *Client) int {
	i := 0
	if c.Secure {
		i |= 1
	}
	if c.IP.Is6() && !c.IP.Is4In6() {
		i |= 2
	}
	return i
}

func (p *Pool) filter(keep func(*Mirror) bool) []int {
	var idx []int
	for i := range p.Mirrors {
		if m := &p.Mirrors[i]; m.Usable() && keep(m) {
			idx = append(idx, i)
		}
	}
	return idx
}

func (p *Pool) newSetOr(idx []int, wider *set) *set {
	if len(idx) == 0 {
		return wider
	}
	return p.newSet(idx)
}

// newSet builds a set of the mirrors idx with the tables p's strategy
// picks with: the alias table (random, geo), the cycle (round robin), the
// groups (ip hash).
func (p *Pool) newSet(idx []int) *set {
	s := &set{idx: idx, equal: true}
	s.w = make([]float64, len(idx))
	for k, i := range idx {
		w := p.Mirrors[i].Effective
		s.w[k] = w
		s.total += w
		if w != s.w[0] {
			s.equal = false
		}
	}
	if !s.equal {
		s.buildAlias()
	}
	switch p.Strategy.(type) {
	case *RoundRobin:
		if !s.equal {
			s.cycle = newCycle(s.w)
		}
	case *IPHash:
		s.hrw = p.newRendezvous(s)
	}
	return s
}

// Rank appends to dst[:0] the indexes of at most limit of p's usable
// mirrors, best first for c: by the strategy's own preference when it is a
// Ranker, else the mirrors c may be sent to (https, IPv6) by effective
// weight, then the others. limit <= 0 means all.
//
// Under c.Only the order is among the holders of the file. By weight (and
// for geo) it is their order in a pool of the holders alone when it is
// cached (restrict.go), the pool's order less the others otherwise, which
// is the same but for a client whose https/IPv6 set holds none of the
// file while a narrower fallback set does (TestRankAmongHolders). ip hash
// keeps its own rule (hashOrder).
func Rank(p *Pool, c Client, dst []int, limit int) []int {
	if r, ok := p.Strategy.(Ranker); ok {
		return r.Rank(p, c, dst, limit)
	}
	if c.Only != nil {
		if rp := p.holders(&c); rp != nil {
			return rp.rank(c, dst, limit)
		}
	}
	return appendAllowed(dst[:0], p.ranked[setIndex(&c)], c.Only, limit)
}

// PickRank is a pick and Rank's order for c in one call: what a redirect
// and its Link header need. A strategy that ranks what it picks from
// (ip hash) computes both in one pass, random and geo find the holders'
// pool once for both, and so does round robin (its draw for a position
// whose mirror lacks the file, and its order).
func PickRank(ctx context.Context, p *Pool, c Client, dst []int, limit int) (*Mirror, []int, error) {
	if pr, ok := p.Strategy.(pickRanker); ok {
		return pr.pickRank(ctx, p, c, dst, limit)
	}
	m, err := p.Strategy.Pick(ctx, p, c)
	if err != nil {
		return nil, dst[:0], err
	}
	return m, Rank(p, c, dst, limit), nil
}

// pickRanker is a strategy that picks and ranks in one pass.
type pickRanker interface {
	pickRank(ctx context.Context, p *Pool, c Client, dst []int, limit int) (*Mirror, []int, error)
}

// appendAllowed appends to dst the mirrors of src allowed under only (nil:
// all) until dst holds limit (<= 0: no limit). Rankers keep c.Only with
// it: Rank's order among the allowed is its order among all.
func appendAllowed(dst, src []int, only []uint64, limit int) []int {
	if only == nil {
		if limit > 0 && len(src) > limit-len(dst) {
			src = src[:max(0, limit-len(dst))]
		}
		return append(dst, src...)
	}
	for _, i := range src {
		if limit > 0 && len(dst) >= limit {
			break
		}
		if allowed(only, i) {
			dst = append(dst, i)
		}
	}
	return dst
}
