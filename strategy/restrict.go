package strategy

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
)

// A file-aware pool restricts a pick to the mirrors that hold the file
// (Client.Only). A mirror network has few distinct sets of holders — the
// mirrors that are up to date, and a few that lag in their own ways — so
// random and geo pick among the holders in a pool of the holders alone,
// built the first time a set of holders is seen and kept for the pool's
// life: the pick then costs what it costs without files (an alias table,
// a cached country tier), plus a hash of the mask. Past maxRestricted
// sets (or maxRestrictedMirrors mirrors in them), picks scan the mirrors
// (only.go), as they did before.

// maxRestricted bounds the holder sets a pool keeps a pool for, and
// maxRestrictedMirrors the mirrors of all of them together (a pool of
// 10,000 mirrors keeps about six sets, not 64).
const (
	maxRestricted        = 64
	maxRestrictedMirrors = 65536
)

// restricted is the pool of the mirrors of a parent pool that one mask
// allows, and where each of its mirrors is in the parent.
type restricted struct {
	only   []uint64 // the mask, copied
	pool   *Pool
	parent []int // per mirror of pool, its index in the parent
}

// restrictions is a pool's cache of restricted pools, by hash of the mask.
type restrictions struct {
	m       sync.Map // uint64 → *restricted
	count   atomic.Int32
	mirrors atomic.Int32 // over all the restricted pools
}

// restrict returns the pool of p's mirrors that only allows, from p's
// cache or built now; nil when the cache is full (or holds another mask
// of the same hash).
func (p *Pool) restrict(only []uint64) *restricted {
	h := maskHash(only, len(p.Mirrors))
	if v, ok := p.restricts.m.Load(h); ok {
		if r := v.(*restricted); sameMask(r.only, only, len(p.Mirrors)) {
			return r
		}
		return nil
	}
	held := 0
	for i := range p.Mirrors {
		if allowed(only, i) {
			held++
		}
	}
	if p.restricts.count.Add(1) > maxRestricted || p.restricts.mirrors.Add(int32(held)) > maxRestrictedMirrors {
		p.restricts.count.Add(-1)
		p.restricts.mirrors.Add(-int32(held))
		return nil
	}
	r := &restricted{only: slices.Clone(only), parent: make([]int, 0, held)}
	ms := make([]Mirror, 0, held)
	for i := range p.Mirrors {
		if allowed(only, i) {
			ms = append(ms, p.Mirrors[i])
			r.parent = append(r.parent, i)
		}
	}
	r.pool = NewPool(PoolSpec{Name: p.Name, Strategy: p.Strategy, Mirrors: ms, Seq: p.Seq,
		IPv4Prefix: p.v4bits, IPv6Prefix: p.v6bits, Unserved: p.Unserved, hrwGroups: p.hrwGroups, local: p.local})
	v, loaded := p.restricts.m.LoadOrStore(h, r)
	if loaded {
		p.restricts.count.Add(-1)
		p.restricts.mirrors.Add(-int32(held))
	}
	if r = v.(*restricted); !sameMask(r.only, only, len(p.Mirrors)) {
		return nil
	}
	return r
}

// pick picks among r's mirrors with s (for c without its mask) and
// returns the parent pool's mirror.
func (r *restricted) pick(ctx context.Context, parent *Pool, s Strategy, c Client) (*Mirror, error) {
	c.Only = nil
	m, err := s.Pick(ctx, r.pool, c)
	if err != nil {
		return nil, err
	}
	return &parent.Mirrors[r.parent[m.Index]], nil
}

// rank is Rank for c among r's mirrors, in the parent's numbering.
func (r *restricted) rank(c Client, dst []int, limit int) []int {
	c.Only = nil
	dst = Rank(r.pool, c, dst, limit)
	for n, i := range dst {
		dst[n] = r.parent[i]
	}
	return dst
}

// pickRank is PickRank for c among r's mirrors (its pool's strategy is
// the parent's), in the parent's numbering.
func (r *restricted) pickRank(ctx context.Context, parent *Pool, c Client, dst []int, limit int) (*Mirror, []int, error) {
	c.Only = nil
	m, dst, err := PickRank(ctx, r.pool, c, dst, limit)
	if err != nil {
		return nil, dst, err
	}
	for n, i := range dst {
		dst[n] = r.parent[i]
	}
	return &parent.Mirrors[r.parent[m.Index]], dst, nil
}

// holdersPickRank is PickRank for a strategy s that picks among a file's
// holders in their own pool (random, geo): the pool is looked up once for
// the pick and the order. Without c.Only, or when the pool is not cached,
// it picks, then ranks.
func holdersPickRank(ctx context.Context, p *Pool, s Strategy, c Client, dst []int, limit int) (*Mirror, []int, error) {
	if c.Only != nil {
		if rp := p.holders(&c); rp != nil {
			return rp.pickRank(ctx, p, c, dst, limit)
		}
	}
	m, err := s.Pick(ctx, p, c)
	if err != nil {
		return nil, dst[:0], err
	}
	return m, Rank(p, c, dst, limit), nil
}

// maskHash hashes the first n bits of mask. Each word is mixed on its
// own, with its position, and the results summed: the words do not wait
// on each other, so a mask of 10,000 mirrors (157 words) hashes in a
// tenth of the time a chain of mixes takes.
func maskHash(mask []uint64, n int) uint64 {
	var h uint64
	for w := range (n + 63) / 64 {
		x := (maskWord(mask, w, n) ^ uint64(w)*0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9
		h += x ^ x>>31
	}
	return mix(h)
}

// sameMask reports whether a and b allow the same of n mirrors.
func sameMask(a, b []uint64, n int) bool {
	for w := range (n + 63) / 64 {
		if maskWord(a, w, n) != maskWord(b, w, n) {
			return false
		}
	}
	return true
}

// maskWord returns word w of mask (0 past its end) without the bits at or
// past n.
func maskWord(mask []uint64, w, n int) uint64 {
	if w >= len(mask) {
		return 0
	}
	x := mask[w]
	if rest := n - 64*w; rest < 64 {
		x &= 1<<rest - 1
	}
	return x
}

// Prepare builds the pools of the holders of masks (the most files first:
// the cache keeps the first maxRestricted) that p's cache does not hold
// yet, so that requests find them built. It is meant for a background
// goroutine, after a new snapshot or a new set of holders; requests that
// come first build what they need themselves, as without it. It returns
// how many of masks have a cached pool.
func (p *Pool) Prepare(masks [][]uint64) int {
	n := 0
	for _, m := range masks {
		if p.restrict(m) != nil {
			n++
		}
	}
	return n
}

// HolderPools returns how many pools of holders p keeps.
func (p *Pool) HolderPools() int { return int(p.restricts.count.Load()) }
