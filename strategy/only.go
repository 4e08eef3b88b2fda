package strategy

import "math"

// Picks restricted to Client.Only, the mirrors that hold the requested
// file. Each strategy keeps its own rule among them; these helpers cost
// O(mirrors) and allocate nothing.

// Allows reports whether Pool.Mirrors[i] may be picked for c (c.Only).
func (c *Client) Allows(i int) bool { return allowed(c.Only, i) }

// allowed reports whether mirror i may be picked under only (nil: any).
func allowed(only []uint64, i int) bool {
	return only == nil || i/64 < len(only) && only[i/64]>>(i%64)&1 == 1
}

// onlySet returns the set the client's pick is made in under c.Only: the
// client's own (https, IPv6) when it has an allowed mirror, else all
// usable mirrors; nil when no usable mirror is allowed.
func (p *Pool) onlySet(c *Client) *set {
	for _, s := range [2]*set{p.set(c), p.sets[0]} {
		for _, i := range s.idx {
			if allowed(c.Only, i) {
				return s
			}
		}
	}
	return nil
}

// weightedOnly returns the position in s.idx of an allowed mirror drawn
// in proportion to its weight, x uniform in [0, 1); -1 when none is
// allowed.
func (s *set) weightedOnly(only []uint64, x float64) int {
	var total float64
	last := -1
	for k, i := range s.idx {
		if allowed(only, i) {
			total += s.w[k]
			last = k
		}
	}
	x *= total
	for k, i := range s.idx {
		if allowed(only, i) {
			if x < s.w[k] {
				return k
			}
			x -= s.w[k]
		}
	}
	return last
}

// unit maps a 64-bit number to [0, 1).
func unit(u uint64) float64 { return float64(u>>11) / (1 << 53) }

// geoOnly is Geo's rule among the allowed mirrors of s: the nearest tier
// that has one, narrowed by distance as geoTier does, then weighted
// random; -1 when none is allowed.
func (p *Pool) geoOnly(s *set, c *Client, x float64) int {
	t, ok := p.geoOnlyTier(s, c)
	if !ok {
		return -1
	}
	var total float64
	last := -1
	for k, i := range s.idx {
		if t.eligible(p, c, i) {
			total += s.w[k]
			last = k
		}
	}
	x *= total
	for k, i := range s.idx {
		if t.eligible(p, c, i) {
			if x < s.w[k] {
				return k
			}
			x -= s.w[k]
		}
	}
	return last
}

// onlyTier is the tier Geo draws from among the allowed mirrors: the
// best tier an allowed mirror is in, and the distance limit inside it.
type onlyTier struct {
	best  int
	limit float64 // +Inf: no limit
	cl    point
}

// geoOnlyTier returns the tier of c's allowed mirrors in s; false when
// none is allowed.
func (p *Pool) geoOnlyTier(s *set, c *Client) (onlyTier, bool) {
	t := onlyTier{best: tierWorld + 1, limit: math.Inf(1), cl: newPoint(c.Lat, c.Lon)}
	for _, i := range s.idx {
		if allowed(c.Only, i) {
			t.best = min(t.best, tierOf(&p.Mirrors[i], c))
		}
	}
	if t.best > tierWorld {
		return t, false
	}
	if narrows(t.best, c) {
		nearest := math.Inf(1)
		for _, i := range s.idx {
			if allowed(c.Only, i) && tierOf(&p.Mirrors[i], c) <= t.best && p.Mirrors[i].HasLoc {
				nearest = min(nearest, t.cl.distance(p.points[i]))
			}
		}
		if !math.IsInf(nearest, 1) {
			t.limit = nearest*nearFactor + nearSlackKm
		}
	}
	return t, true
}

// eligible reports whether mirror i is in the tier.
func (t *onlyTier) eligible(p *Pool, c *Client, i int) bool {
	if !allowed(c.Only, i) || tierOf(&p.Mirrors[i], c) > t.best {
		return false
	}
	return math.IsInf(t.limit, 1) || p.Mirrors[i].HasLoc && t.cl.distance(p.points[i]) <= t.limit
}
