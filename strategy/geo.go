package strategy

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
)

// Geo sends a client to the nearest tier of mirrors: the mirrors whose
// networks hold its address (the most specific prefix first), else those
// of its autonomous system, else of its country (or that list its
// country among theirs), else of its continent, else all; weighted
// random inside the tier. Where distance can tell (the
// client and the mirrors have coordinates), the tier narrows to the mirrors
// within 1.5× the distance of the nearest one (plus 50 km, so that one
// metro area is one tier). Inside the country tier that needs a precise
// client location (a city database): a country's centroid says nothing
// about where in the country the client is. A tier with no usable mirror
// spills to the next. A client the database does not know gets weighted
// random over all mirrors.
type Geo struct {
	// rand returns a uniform 64-bit number; nil means math/rand/v2.Uint64.
	rand func() uint64
}

// Tiers, nearest first. A mirror whose networks hold the client is in
// the network tier of the longest such prefix: tierNetwork + 128 - bits,
// so that the most specific prefix comes first.
const (
	tierNetwork   = 0
	tierASN       = tierNetwork + 129
	tierCountry   = tierASN + 1
	tierContinent = tierCountry + 1
	tierWorld     = tierContinent + 1
)

// tierName is a tier's name in /api/explain.
func tierName(t int) string {
	switch {
	case t < tierASN:
		return "network"
	case t == tierASN:
		return "asn"
	case t == tierCountry:
		return "country"
	case t == tierContinent:
		return "continent"
	}
	return "world"
}

// narrows reports whether a tier is narrowed by distance for c: the
// continent and the world always when c has a location; the nearer
// tiers only with a city database's coordinates (a country's centroid
// says nothing about where in the country, network or AS the client is).
func narrows(tier int, c *Client) bool {
	return c.HasLoc && (tier >= tierContinent || c.Precise)
}

const (
	earthRadiusKm = 6371.0
	nearFactor    = 1.5
	nearSlackKm   = 50.0
)

// Pick implements Strategy.
func (g *Geo) Pick(_ context.Context, p *Pool, c Client) (*Mirror, error) {
	s := p.set(&c)
	if len(s.idx) == 0 {
		return nil, ErrNoMirror
	}
	u := g.uint64()
	if c.Only != nil {
		if rp := p.holders(&c); rp != nil {
			return rp.pick(context.Background(), p, g, c)
		}
		if s = p.onlySet(&c); s != nil {
			if k := p.geoOnly(s, &c, unit(u)); k >= 0 {
				return &p.Mirrors[s.idx[k]], nil
			}
		}
		return nil, ErrNoMirror
	}
	if !p.placed(&c) {
		return &p.Mirrors[s.idx[s.weighted(u)]], nil
	}
	x := unit(u)
	if t := p.cachedTierOf(s, &c); t != nil {
		// Without city coordinates the tier depends only on the country
		// (and the client's set), with them on the cell: computed once
		// per snapshot.
		return t.mirror(p, s, x), nil
	}
	var buf [64]int
	tier, _ := p.geoTier(s, &c, buf[:0])
	var total float64
	for _, k := range tier {
		total += s.w[k]
	}
	x *= total
	for _, k := range tier {
		if x < s.w[k] {
			return &p.Mirrors[s.idx[k]], nil
		}
		x -= s.w[k]
	}
	return &p.Mirrors[s.idx[tier[len(tier)-1]]], nil
}

// cachedTier is what geo computes once per snapshot for the clients of one
// country: their tier with prefix sums, and their failover order.
type cachedTier struct {
	ks    []int
	cum   []float64
	order []int
}

// mirror maps x in [0, 1) to a mirror of the tier (of set s of p) in
// proportion to the weights.
func (t *cachedTier) mirror(p *Pool, s *set, x float64) *Mirror {
	x *= t.cum[len(t.cum)-1]
	i, _ := slices.BinarySearch(t.cum, x)
	return &p.Mirrors[s.idx[t.ks[min(i, len(t.ks)-1)]]]
}

type tierKey struct {
	country, continent string
	cell               int32 // 0: placed by country alone (see cellOf)
	set                *set
	local              localKey
}

// placedNowhere reports whether no database placed c: geo's tiers are
// then all one, but for the networks and ASNs it is local to.
func (c *Client) placedNowhere() bool { return c.Country == "" && c.Continent == "" && !c.HasLoc }

// placed reports whether geo's tiers tell p's mirrors apart for c: a
// database placed it, or it is local to a mirror's networks or AS.
func (p *Pool) placed(c *Client) bool { return !c.placedNowhere() || p.localOf(c).isLocal() }

// cellDegrees is the size of the cells clients placed by a city database
// are placed in: half a degree, 55 km north–south, less east–west.
const cellDegrees = 0.5

// maxCells bounds the cells a pool caches tiers for; clients of further
// cells get their tier computed per request.
const maxCells = 4096

// cellOf is the cell of a client with coordinates (1 and up).
func cellOf(c *Client) int32 {
	lat := int32((min(max(c.Lat, -90), 90) + 90) / cellDegrees)
	lon := int32((min(max(c.Lon, -180), 180) + 180) / cellDegrees)
	return lat*(360/cellDegrees+1) + lon + 1
}

// cachedTierOf returns the cached tier of c in set s: by country for a
// client placed by country, by cell (computed at the cell's centre) for
// one placed by city coordinates; nil for a client placed nowhere, and
// when the pool caches maxCells cells already.
func (p *Pool) cachedTierOf(s *set, c *Client) *cachedTier {
	local := p.localOf(c)
	switch {
	case !c.Precise && (c.Country != "" || local.isLocal()):
		return p.countryTier(s, c, local)
	case c.HasLoc && c.Precise:
		cell := cellOf(c)
		k := tierKey{c.Country, c.Continent, cell, s, local}
		if v, ok := p.tiers.Load(k); ok {
			return v.(*cachedTier)
		}
		if p.cells.Add(1) > maxCells {
			p.cells.Add(-1)
			return nil
		}
		cc := *c
		cc.Lat = (float64((cell-1)/(360/cellDegrees+1))+0.5)*cellDegrees - 90
		cc.Lon = (float64((cell-1)%(360/cellDegrees+1))+0.5)*cellDegrees - 180
		return p.storeTier(k, s, &cc)
	}
	return nil
}

// countryTier returns the tier of clients of c's country in set s, from
// the pool's cache. The cache lives as long as the pool (one snapshot).
func (p *Pool) countryTier(s *set, c *Client, local localKey) *cachedTier {
	k := tierKey{country: c.Country, set: s, local: local}
	if v, ok := p.tiers.Load(k); ok {
		return v.(*cachedTier)
	}
	return p.storeTier(k, s, c)
}

// storeTier computes the tier and failover order of c in s and caches
// them under k.
func (p *Pool) storeTier(k tierKey, s *set, c *Client) *cachedTier {
	ks, _ := p.geoTier(s, c, nil)
	t := &cachedTier{ks: ks, cum: make([]float64, len(ks)), order: p.geoOrder(c)}
	var sum float64
	for i, k := range ks {
		sum += s.w[k]
		t.cum[i] = sum
	}
	v, _ := p.tiers.LoadOrStore(k, t)
	return v.(*cachedTier)
}

// Rank orders the usable mirrors by tier, then distance, then weight: the
// order a client should fail over in. It runs for every redirect (the Link
// header), so the two common cases need no work: a client without a
// location gets the pool's order by weight, a client placed by country
// alone the order cached for its country, and one placed by a city
// database the order cached for its cell.
func (g *Geo) Rank(p *Pool, c Client, dst []int, limit int) []int {
	if c.Only != nil {
		// Among a file's holders: their order in their own pool (Rank).
		if rp := p.holders(&c); rp != nil {
			return rp.rank(c, dst, limit)
		}
	}
	if !p.placed(&c) {
		return appendAllowed(dst[:0], p.ranked[setIndex(&c)], c.Only, limit)
	}
	if t := p.cachedTierOf(p.set(&c), &c); t != nil {
		return appendAllowed(dst[:0], t.order, c.Only, limit)
	}
	return appendAllowed(dst[:0], p.geoOrder(&c), c.Only, limit)
}

// pickRank implements pickRanker: a client's cached tier serves the pick
// and the order, looked up once; among a file's holders, their pool is.
func (g *Geo) pickRank(ctx context.Context, p *Pool, c Client, dst []int, limit int) (*Mirror, []int, error) {
	if c.Only == nil {
		s := p.set(&c)
		if len(s.idx) > 0 && p.placed(&c) {
			if t := p.cachedTierOf(s, &c); t != nil {
				return t.mirror(p, s, unit(g.uint64())), appendAllowed(dst[:0], t.order, nil, limit), nil
			}
		}
	}
	return holdersPickRank(ctx, p, g, c, dst, limit)
}

// uint64 is a uniform random number from g's source.
func (g *Geo) uint64() uint64 {
	if g.rand != nil {
		return g.rand()
	}
	return rand.Uint64()
}

// geoOrder is the failover order of every usable mirror for c: the
// client's https/IPv6 set first, then by tier, distance and weight.
func (p *Pool) geoOrder(c *Client) []int {
	type ranked struct {
		i        int
		tier     int
		in       bool // in the client's https/IPv6 set
		distance float64
		weight   float64
	}
	s := p.set(c)
	inSet := make(map[int]bool, len(s.idx))
	for _, i := range s.idx {
		inSet[i] = true
	}
	cl := newPoint(c.Lat, c.Lon)
	all := make([]ranked, 0, len(p.ranked[0]))
	for _, i := range p.ranked[0] {
		m := &p.Mirrors[i]
		r := ranked{i: i, tier: tierOf(m, c), in: inSet[i], weight: m.Effective, distance: math.Inf(1)}
		if c.HasLoc && m.HasLoc {
			r.distance = cl.distance(p.points[i])
		}
		all = append(all, r)
	}
	slices.SortStableFunc(all, func(a, b ranked) int {
		if a.in != b.in {
			if a.in {
				return -1
			}
			return 1
		}
		if a.tier != b.tier {
			return a.tier - b.tier
		}
		if d := cmp.Compare(a.distance, b.distance); d != 0 {
			return d
		}
		return cmp.Compare(b.weight, a.weight)
	})
	order := make([]int, len(all))
	for k, r := range all {
		order[k] = r.i
	}
	return order
}

// geoTier appends to dst the positions (in s.idx) of the best non-empty
// tier for c, and returns it with the tier's rank.
func (p *Pool) geoTier(s *set, c *Client, dst []int) ([]int, int) {
	best := tierWorld
	for _, i := range s.idx {
		best = min(best, tierOf(&p.Mirrors[i], c))
	}
	dst = dst[:0]
	for k, i := range s.idx {
		if tierOf(&p.Mirrors[i], c) <= best {
			dst = append(dst, k)
		}
	}
	if narrows(best, c) && len(dst) > 0 {
		dst = p.nearest(s, c, dst)
	}
	return dst, best
}

// tierOf is the best tier mirror m can be in for client c.
func tierOf(m *Mirror, c *Client) int {
	if len(m.Networks) > 0 {
		if bits := m.networkBits(c.IP); bits >= 0 {
			return tierNetwork + 128 - bits
		}
	}
	if c.ASN != 0 && slices.Contains(m.ASNs, c.ASN) {
		return tierASN
	}
	if c.Country != "" {
		if m.Country == c.Country {
			return tierCountry
		}
		for _, cc := range m.Countries {
			if cc == c.Country {
				return tierCountry
			}
		}
	}
	if c.Continent != "" && m.Continent == c.Continent {
		return tierContinent
	}
	return tierWorld
}

// nearest keeps the positions whose mirror is within 1.5× (+50 km) the
// distance of the nearest; mirrors without coordinates are kept only when
// none has any.
func (p *Pool) nearest(s *set, c *Client, ks []int) []int {
	cl := newPoint(c.Lat, c.Lon)
	best := math.Inf(1)
	for _, k := range ks {
		if i := s.idx[k]; p.Mirrors[i].HasLoc {
			best = min(best, cl.distance(p.points[i]))
		}
	}
	if math.IsInf(best, 1) {
		return ks
	}
	limit := best*nearFactor + nearSlackKm
	out := ks[:0]
	for _, k := range ks {
		if i := s.idx[k]; p.Mirrors[i].HasLoc && cl.distance(p.points[i]) <= limit {
			out = append(out, k)
		}
	}
	return out
}

// point is a position prepared for great-circle distances.
type point struct{ lat, lon, cosLat float64 }

func newPoint(latDeg, lonDeg float64) point {
	lat, lon := latDeg*math.Pi/180, lonDeg*math.Pi/180
	return point{lat, lon, math.Cos(lat)}
}

// distance is the haversine great-circle distance in kilometres.
func (a point) distance(b point) float64 {
	sLat := math.Sin((b.lat - a.lat) / 2)
	sLon := math.Sin((b.lon - a.lon) / 2)
	h := sLat*sLat + a.cosLat*b.cosLat*sLon*sLon
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(min(h, 1)))
}

var (
	_ Strategy = (*Geo)(nil)
	_ Ranker   = (*Geo)(nil)
)
