package strategy

// The strategies' names, as pools[].strategy gives them.
const (
	NameRandom     = "random"
	NameRoundRobin = "roundrobin"
	NameIPHash     = "iphash"
	NameGeo        = "geo"
)

// ByName returns a new strategy of that name, and false for a name no
// strategy has.
func ByName(name string) (Strategy, bool) { return ByNameWith(name, nil) }

// ByNameWith is ByName with the random draws of random and geo taken from
// src (nil: math/rand/v2), so that a simulation is a pure function of its
// seed.
func ByNameWith(name string, src func() uint64) (Strategy, bool) {
	switch name {
	case NameRandom:
		return &Random{rand: src}, true
	case NameRoundRobin:
		return new(RoundRobin), true
	case NameIPHash:
		return new(IPHash), true
	case NameGeo:
		return &Geo{rand: src}, true
	}
	return nil, false
}
