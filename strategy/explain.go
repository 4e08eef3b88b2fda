package strategy

import (
	"context"
	"math/rand/v2"
)

// Share is one mirror's part in a strategy's choice for one client.
type Share struct {
	// Share is the fraction of the client's requests the mirror gets now.
	Share float64
	// Tier is the mirror's geo tier for the client ("country",
	// "continent", "world"); "" for the other strategies.
	Tier string
}

// explainDraws is how many picks estimate the shares of the strategies
// that draw at random.
const explainDraws = 4096

// tierNames are the geo tiers, best first.
var tierNames = [...]string{tierCountry: "country", tierContinent: "continent", tierWorld: "world"}

// Shares explains how p's strategy treats client c: per mirror (indexed as
// p.Mirrors) the share of c's requests it gets now, and the mirror a
// request would get now (nil when none is usable, and for round robin,
// whose next position only a request may take). The shares come from the
// strategies' own code: exact for round robin (each mirror's weight
// among the client's set, which the cycle follows) and ip hash (one
// mirror), estimated from explainDraws picks with a fixed seed for random
// and geo. It has no effect on the picks requests get.
func Shares(p *Pool, c Client) (shares []Share, now *Mirror) {
	shares = make([]Share, len(p.Mirrors))
	if _, ok := p.Strategy.(*Geo); ok {
		for i := range p.Mirrors {
			shares[i].Tier = tierNames[tierOf(&p.Mirrors[i], &c)]
		}
	}
	ctx := context.Background()
	switch st := p.Strategy.(type) {
	case *IPHash:
		if m, err := st.Pick(ctx, p, c); err == nil {
			shares[m.Index].Share, now = 1, m
		}
	case *RoundRobin:
		s := p.set(&c)
		if c.Only != nil {
			s = p.onlySet(&c)
		}
		if s == nil {
			return shares, nil
		}
		var sum float64
		for _, i := range s.idx {
			if c.Allows(i) {
				sum += p.Mirrors[i].Effective
			}
		}
		for _, i := range s.idx {
			if c.Allows(i) && sum > 0 {
				shares[i].Share = p.Mirrors[i].Effective / sum
			}
		}
	default:
		src := rand.New(rand.NewPCG(1, 2))
		var draw Strategy
		switch p.Strategy.(type) {
		case *Geo:
			draw = &Geo{rand: src.Uint64}
		default:
			draw = &Random{rand: src.Uint64}
		}
		for range explainDraws {
			m, err := draw.Pick(ctx, p, c)
			if err != nil {
				return shares, nil
			}
			shares[m.Index].Share += 1.0 / explainDraws
		}
		if m, err := p.Strategy.Pick(ctx, p, c); err == nil {
			now = m
		}
	}
	return shares, now
}
