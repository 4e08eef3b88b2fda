package strategy

import (
	"math"
	"slices"
)

// rendezvous is a set's weighted rendezvous (highest random weight)
// hashing in two levels, so that a pick costs about 32 + N/32 scores
// rather than N: the pool's mirrors are split into 32 groups by a hash of
// their name (a mirror joining or leaving moves no other mirror between
// groups), a client first goes to the group of the
// highest weighted score among the groups (a group weighs what its
// usable members weigh), then to the member of the highest score in it.
// Both levels are weighted rendezvous, w / -ln(u) with u the hash of the
// client key and the group or mirror mapped into (0, 1): a mirror's
// chance is its weight over the set's, as with one level. When a mirror
// leaves, its clients move, and so do about as many others, drawn from
// its group (the group weighs less at the first level): fewer than 2/N of
// the clients in all, where one level moves exactly 1/N
// (TestIPHashDisruption measures it). Every process builds the same
// groups from the same names.
type rendezvous struct {
	groups []hrwGroup
}

// hrwGroup is one group of a set's mirrors.
type hrwGroup struct {
	seed   uint64
	weight float64
	ks     []int     // positions in the set's idx
	seeds  []uint64  // the members' name hashes, parallel to ks
	w      []float64 // the members' weights, parallel to ks
	equal  bool      // every member weighs the same: scores need no log
}

// hrwGroups is the number of groups. It is fixed: a count that followed
// the pool's size would regroup nearly every mirror, and move nearly
// every client, when a mirror joined at the wrong moment. 32 keeps a pick
// to about 63 scores at 1,000 mirrors; pools of up to a few dozen have
// about one mirror per group, and move only the leaving mirror's clients.
const hrwGroups = 32

// groupOf is the group of the mirror whose name hashes to seed.
func groupOf(seed uint64, groups int) int { return int(mix(seed^groupSalt) % uint64(groups)) }

// groupSalt separates a mirror's group hash from its score hash.
const groupSalt = 0x6a09e667f3bcc909

// newRendezvous groups the set s of pool p.
func (p *Pool) newRendezvous(s *set) *rendezvous {
	n := hrwGroups
	byGroup := make([]hrwGroup, n)
	for k, i := range s.idx {
		g := &byGroup[groupOf(p.seeds[i], n)]
		g.ks = append(g.ks, k)
		g.seeds = append(g.seeds, p.seeds[i])
		g.w = append(g.w, s.w[k])
		g.weight += s.w[k]
	}
	r := &rendezvous{}
	for gi := range byGroup {
		g := byGroup[gi]
		if len(g.ks) == 0 {
			continue
		}
		g.seed = mix(uint64(gi) ^ groupSalt)
		g.equal = true
		for _, w := range g.w {
			g.equal = g.equal && w == g.w[0]
		}
		r.groups = append(r.groups, g)
	}
	return r
}

// rendezvousOf returns s's groups; a pool built for another strategy has
// none, and gets them built for the call.
func (p *Pool) rendezvousOf(s *set) *rendezvous {
	if s.hrw != nil {
		return s.hrw
	}
	return p.newRendezvous(s)
}

// hrwScore is the weighted rendezvous score of weight w for the hash h of
// a key and a candidate: w / -ln(u), u = h mapped into (0, 1). The chance
// that a candidate has the highest score is its weight over the total.
func hrwScore(h uint64, w float64) float64 {
	u := (float64(h>>11) + 0.5) / (1 << 53)
	return w / -math.Log(u)
}

// bestGroup returns the index in r.groups of key's group.
func (r *rendezvous) bestGroup(key uint64) int {
	best, bestScore := 0, math.Inf(-1)
	for gi := range r.groups {
		g := &r.groups[gi]
		if sc := hrwScore(mix(g.seed^key), g.weight); sc > bestScore {
			best, bestScore = gi, sc
		}
	}
	return best
}

// member returns the position in g.ks of key's member of g.
func (g *hrwGroup) member(key uint64) int {
	best := 0
	if g.equal {
		var bestH uint64
		for j, seed := range g.seeds {
			if h := mix(seed ^ key); h>>11 > bestH>>11 || j == 0 {
				best, bestH = j, h
			}
		}
		return best
	}
	bestScore := math.Inf(-1)
	for j, seed := range g.seeds {
		if sc := hrwScore(mix(seed^key), g.w[j]); sc > bestScore {
			best, bestScore = j, sc
		}
	}
	return best
}

// pick returns the position in the set's idx of key's mirror.
func (r *rendezvous) pick(key uint64) int {
	g := &r.groups[r.bestGroup(key)]
	return g.ks[g.member(key)]
}

// pickAllowed is pick among the allowed mirrors only (only, over the
// pool's mirrors; idx maps positions to them): each group weighs what its
// allowed members weigh. It returns -1 when none is allowed.
func (r *rendezvous) pickAllowed(key uint64, idx []int, only []uint64) int {
	bestG, bestScore := -1, math.Inf(-1)
	for gi := range r.groups {
		g := &r.groups[gi]
		var w float64
		for j, k := range g.ks {
			if allowed(only, idx[k]) {
				w += g.w[j]
			}
		}
		if w == 0 {
			continue
		}
		if sc := hrwScore(mix(g.seed^key), w); sc > bestScore {
			bestG, bestScore = gi, sc
		}
	}
	if bestG < 0 {
		return -1
	}
	g := &r.groups[bestG]
	best, bestMember := -1, scored{}
	for j, k := range g.ks {
		if !allowed(only, idx[k]) {
			continue
		}
		if c := (scored{k, g.score(j, key)}); best < 0 || c.before(bestMember) {
			best, bestMember = k, c
		}
	}
	return best
}

// order appends to dst the positions (in the set's idx) of the set's
// mirrors in key's order, best first: its group's members by score, then
// the next group's, and so on; only those allowed (nil: all), and at most
// limit (<= 0: all). Up to maxTopOrder it allocates nothing.
func (r *rendezvous) order(key uint64, dst []int, limit int, allowed func(k int) bool) []int {
	var gbuf [hrwGroups]scored
	gs := gbuf[:0]
	for gi := range r.groups {
		g := &r.groups[gi]
		gs = append(gs, scored{gi, hrwScore(mix(g.seed^key), g.weight)})
	}
	for len(gs) > 0 && (limit <= 0 || len(dst) < limit) {
		top := 0
		for x := range gs {
			if gs[x].before(gs[top]) {
				top = x
			}
		}
		g := &r.groups[gs[top].at]
		gs = append(gs[:top], gs[top+1:]...)
		if limit > 0 && limit-len(dst) <= maxTopOrder {
			dst = g.appendTop(key, dst, limit-len(dst), allowed)
			continue
		}
		ms := make([]scored, 0, len(g.ks))
		for j := range g.ks {
			if allowed == nil || allowed(g.ks[j]) {
				ms = append(ms, scored{g.ks[j], g.score(j, key)})
			}
		}
		slices.SortFunc(ms, func(a, b scored) int {
			if a.before(b) {
				return -1
			}
			return 1
		})
		for _, m := range ms {
			if limit > 0 && len(dst) >= limit {
				break
			}
			dst = append(dst, m.at)
		}
	}
	return dst
}

// maxTopOrder is the most mirrors order takes from one group without
// sorting it (the Link header needs four).
const maxTopOrder = 8

// scored is a candidate and its score.
type scored struct {
	at    int
	score float64
}

// before reports whether a ranks before b: higher score, then lower at.
func (a scored) before(b scored) bool {
	return a.score > b.score || a.score == b.score && a.at < b.at
}

// score is member j's score for key, as member compares them.
func (g *hrwGroup) score(j int, key uint64) float64 {
	if g.equal {
		return float64(mix(g.seeds[j]^key) >> 11)
	}
	return hrwScore(mix(g.seeds[j]^key), g.w[j])
}

// appendTop appends to dst the n (<= maxTopOrder) allowed members of g
// with the highest scores for key, best first.
func (g *hrwGroup) appendTop(key uint64, dst []int, n int, allowed func(k int) bool) []int {
	var top [maxTopOrder]scored
	have := 0
	for j := range g.ks {
		if allowed != nil && !allowed(g.ks[j]) {
			continue
		}
		c := scored{g.ks[j], g.score(j, key)}
		if have == n && !c.before(top[have-1]) {
			continue
		}
		x := min(have, n-1)
		for x > 0 && c.before(top[x-1]) {
			top[x] = top[x-1]
			x--
		}
		top[x] = c
		have = min(have+1, n)
	}
	for _, c := range top[:have] {
		dst = append(dst, c.at)
	}
	return dst
}
