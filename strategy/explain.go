package strategy

import (
	"context"
)

// Share is one mirror's part in a strategy's choice for one client.
type Share struct {
	// Share is the fraction of the client's requests the mirror gets now.
	Share float64
	// Tier is the mirror's geo tier for the client ("network", "asn",
	// "country", "continent", "world"); "" for the other strategies.
	Tier string
}

// Shares explains how p's strategy treats client c: per mirror (indexed as
// p.Mirrors) the share of c's requests it gets now, and the mirror a
// request would get now (nil when none is usable, and for round robin,
// whose next position only a request may take). The shares are exact and
// come from the sets the strategies themselves draw from: each mirror's
// weight over the total of the client's set (random, round robin) or
// tier (geo), and the one mirror for ip hash. It costs O(mirrors) (geo:
// one distance per mirror) and has no effect on the picks requests get.
func Shares(p *Pool, c Client) (shares []Share, now *Mirror) {
	shares = make([]Share, len(p.Mirrors))
	_, isGeo := p.Strategy.(*Geo)
	if isGeo {
		for i := range p.Mirrors {
			shares[i].Tier = tierName(tierOf(&p.Mirrors[i], &c))
		}
	}
	ctx := context.Background()
	switch st := p.Strategy.(type) {
	case *IPHash:
		if m, err := st.Pick(ctx, p, c); err == nil {
			shares[m.Index].Share, now = 1, m
		}
		return shares, now
	case *RoundRobin:
		weightShares(shares, p.drawSet(&c))
		return shares, nil
	}
	if c.Only != nil {
		// Random and geo pick among the holders in their own pool.
		if rp := p.holders(&c); rp != nil {
			sub := c
			sub.Only = nil
			subShares, subNow := Shares(rp.pool, sub)
			for i, sh := range subShares {
				shares[rp.parent[i]].Share = sh.Share
			}
			if subNow != nil {
				now = &p.Mirrors[rp.parent[subNow.Index]]
			}
			return shares, now
		}
	}
	if isGeo {
		weightShares(shares, p.geoDrawSet(&c))
	} else {
		weightShares(shares, p.drawSet(&c))
	}
	if m, err := p.Strategy.Pick(ctx, p, c); err == nil {
		now = m
	}
	return shares, now
}

// drawSet returns what random and round
// robin draw c's mirror from, in proportion to the set's weights: c's own
// set, or under c.Only its allowed mirrors of onlySet.
func (p *Pool) drawSet(c *Client) draw {
	s := p.set(c)
	if c.Only != nil {
		s = p.onlySet(c)
	}
	if s == nil {
		return draw{}
	}
	ks := make([]int, 0, len(s.idx))
	for k, i := range s.idx {
		if c.Allows(i) {
			ks = append(ks, k)
		}
	}
	return draw{s, ks}
}

// geoDrawSet returns what Geo draws c's
// mirror from: the tier of geoTier, or under c.Only that of geoOnlyTier.
func (p *Pool) geoDrawSet(c *Client) draw {
	if c.Only == nil {
		s := p.set(c)
		if len(s.idx) == 0 {
			return draw{}
		}
		if t := p.cachedTierOf(s, c); t != nil {
			return draw{s, t.ks}
		}
		ks, _ := p.geoTier(s, c, nil)
		return draw{s, ks}
	}
	s := p.onlySet(c)
	if s == nil {
		return draw{}
	}
	t, ok := p.geoOnlyTier(s, c)
	if !ok {
		return draw{}
	}
	var ks []int
	for k, i := range s.idx {
		if t.eligible(p, c, i) {
			ks = append(ks, k)
		}
	}
	return draw{s, ks}
}

// draw is what a weighted draw picks from: the positions ks of the set s.
type draw struct {
	s  *set
	ks []int
}

// weightShares sets each mirror of d to its weight over d's total.
func weightShares(shares []Share, d draw) {
	var total float64
	for _, k := range d.ks {
		total += d.s.w[k]
	}
	if total <= 0 {
		return
	}
	for _, k := range d.ks {
		shares[d.s.idx[k]].Share = d.s.w[k] / total
	}
}
