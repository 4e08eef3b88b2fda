package strategy

import (
	"math"
	"slices"
)

// rendezvous is a set's weighted rendezvous (highest random weight)
// hashing in two levels, so that a pick costs about G + N/G scores rather
// than N: the pool's mirrors are split into G groups (hrwGroupsFor) by a
// hash of their name (a mirror joining or leaving moves no other mirror
// between groups), a client first goes to the group of the
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
	// fewest is the fewest members a group has: an order of up to that
	// many, over all the members, comes whole from key's own group.
	fewest int
}

// hrwGroup is one group of a set's mirrors.
type hrwGroup struct {
	seed      uint64
	weight    float64
	invWeight float64   // 1 / weight
	ks        []int     // positions in the set's idx
	seeds     []uint64  // the members' name hashes, parallel to ks
	w         []float64 // the members' weights, parallel to ks
	invW      []float64 // 1 / w, parallel to ks
	equal     bool      // every member weighs the same: scores need no log
}

// hrwGroupsFor returns the number of groups of a pool of n configured
// mirrors (up or down: a mirror going down must not regroup the others).
// It is 32 up to 2,048 mirrors, which keeps a pick to about 63 scores at
// 1,000 mirrors (pools of up to a few dozen have about one mirror per
// group, and move only the leaving mirror's clients), and 128 above
// (about 200 scores at 10,000). A reload that takes a pool across 2,048
// mirrors regroups it, and moves most clients once. A pool of a file's
// holders (restrict.go) keeps its parent's count, and so its groups.
func hrwGroupsFor(n int) int {
	if n > 2048 {
		return maxHRWGroups
	}
	return 32
}

// maxHRWGroups is the most groups a set has.
const maxHRWGroups = 128

// groupOf is the group of the mirror whose name hashes to seed.
func groupOf(seed uint64, groups int) int { return int(mix(seed^groupSalt) % uint64(groups)) }

// groupSalt separates a mirror's group hash from its score hash.
const groupSalt = 0x6a09e667f3bcc909

// newRendezvous groups the set s of pool p.
func (p *Pool) newRendezvous(s *set) *rendezvous {
	n := p.hrwGroups
	byGroup := make([]hrwGroup, n)
	for k, i := range s.idx {
		g := &byGroup[groupOf(p.seeds[i], n)]
		g.ks = append(g.ks, k)
		g.seeds = append(g.seeds, p.seeds[i])
		g.w = append(g.w, s.w[k])
		g.invW = append(g.invW, 1/s.w[k])
		g.weight += s.w[k]
	}
	r := &rendezvous{}
	for gi := range byGroup {
		g := byGroup[gi]
		if len(g.ks) == 0 {
			continue
		}
		if len(r.groups) == 0 || len(g.ks) < r.fewest {
			r.fewest = len(g.ks)
		}
		g.seed = mix(uint64(gi) ^ groupSalt)
		g.invWeight = 1 / g.weight
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

// bestGroup returns the index in r.groups of key's group.
func (r *rendezvous) bestGroup(key uint64) int {
	best, bestScore := 0, math.Inf(-1)
	for gi := range r.groups {
		g := &r.groups[gi]
		h := mix(g.seed ^ key)
		if hrwBound(h, g.invWeight) < bestScore {
			continue
		}
		if sc := hrwScore(h, g.invWeight); sc > bestScore {
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
		h := mix(seed ^ key)
		if hrwBound(h, g.invW[j]) < bestScore {
			continue
		}
		if sc := hrwScore(h, g.invW[j]); sc > bestScore {
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
		if sc := hrwScore(mix(g.seed^key), 1/w); sc > bestScore {
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
// the next group's, and so on; only those allowed (nil: all), until dst
// holds limit (<= 0: all). It returns with them key's own pick, the best
// member of the best group whether allowed or not (-1 when the set is
// empty). Up to maxTopOrder it allocates nothing.
func (r *rendezvous) order(key uint64, dst []int, limit int, allowed *filter) (out []int, own int) {
	if limit > 0 && limit-len(dst) <= maxTopOrder {
		if out, own, ok := r.orderTop(key, dst, limit, allowed); ok {
			return out, own
		}
	}
	if len(r.groups) == 0 {
		return dst, -1
	}
	own = r.pick(key)
	var gbuf [maxHRWGroups]scored
	gs := gbuf[:0]
	for gi := range r.groups {
		g := &r.groups[gi]
		gs = append(gs, scored{gi, hrwScore(mix(g.seed^key), g.invWeight)})
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
			dst, _ = g.appendTop(key, dst, limit-len(dst), allowed)
			continue
		}
		ms := make([]scored, 0, len(g.ks))
		for j := range g.ks {
			if allowed.ok(g.ks[j]) {
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
	return dst, own
}

// orderTop is order for at most maxTopOrder more mirrors: it scores the
// groups once, keeping the best of them (each gives at least one mirror
// when all are allowed; the best alone when every group has enough
// members), and takes key's own pick and the first group's allowed
// members in one pass. It reports false, having appended
// nothing, when the allowed members of the groups it kept are too few.
func (r *rendezvous) orderTop(key uint64, dst []int, limit int, allowed *filter) (out []int, own int, ok bool) {
	start := len(dst)
	if allowed == nil && limit-start <= r.fewest && len(r.groups) > 0 {
		// Key's group fills the order alone: only the best group is
		// needed, not the next ones (fewer logarithms among the groups).
		dst, own = r.groups[r.bestGroup(key)].appendTop(key, dst, limit-start, nil)
		return dst, own, true
	}
	top := topN{n: limit - start}
	for gi := range r.groups {
		g := &r.groups[gi]
		h := mix(g.seed ^ key)
		if top.admits(hrwBound(h, g.invWeight)) {
			top.add(scored{gi, hrwScore(h, g.invWeight)})
		}
	}
	if top.have == 0 {
		return dst, -1, true
	}
	own = -1
	for _, c := range top.best() {
		if len(dst) >= limit {
			break
		}
		g := &r.groups[c.at]
		var best int
		dst, best = g.appendTop(key, dst, limit-len(dst), allowed)
		if own < 0 {
			own = best
		}
	}
	if len(dst) < limit && top.have < len(r.groups) {
		return dst[:start], -1, false
	}
	return dst, own, true
}

// maxTopOrder is the most mirrors order takes from one group without
// sorting it (the Link header needs four).
const maxTopOrder = 8

// score is member j's score for key, as member compares them.
func (g *hrwGroup) score(j int, key uint64) float64 {
	if g.equal {
		return float64(mix(g.seeds[j]^key) >> 11)
	}
	return hrwScore(mix(g.seeds[j]^key), g.invW[j])
}

// filter says which positions of a set's idx an order takes: those whose
// mirror only allows (nil: every one), but not. A nil *filter takes all.
type filter struct {
	only []uint64
	idx  []int // the set's idx
	not  int   // a position left out (-1: none)
}

// ok reports whether position k is taken.
func (f *filter) ok(k int) bool {
	return f == nil || k != f.not && allowed(f.only, f.idx[k])
}

// appendTop appends to dst the n (<= maxTopOrder) allowed members of g
// with the highest scores for key, best first, and returns with them the
// best member whether allowed or not (its position in the set's idx).
func (g *hrwGroup) appendTop(key uint64, dst []int, n int, allowed *filter) ([]int, int) {
	top := topN{n: n}
	best := scored{at: -1}
	for j, k := range g.ks {
		h := mix(g.seeds[j] ^ key)
		if g.equal {
			c := scored{k, float64(h >> 11)}
			if best.at < 0 || c.before(best) {
				best = c
			}
			if allowed.ok(k) {
				top.add(c)
			}
			continue
		}
		bound := hrwBound(h, g.invW[j])
		in := allowed.ok(k)
		if (best.at >= 0 && bound < best.score) && !(in && top.admits(bound)) {
			continue
		}
		c := scored{k, hrwScore(h, g.invW[j])}
		if best.at < 0 || c.before(best) {
			best = c
		}
		if in {
			top.add(c)
		}
	}
	for _, c := range top.best() {
		dst = append(dst, c.at)
	}
	return dst, best.at
}
