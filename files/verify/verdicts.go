package verify

import (
	"sync/atomic"

	"github.com/dispatcher/dispatcher/files"
	"github.com/dispatcher/dispatcher/internal/bitmask"
)

// Verdict is what the checks found of one file: the mirrors that passed
// a check against the origin's copy Version, and the mirrors whose last
// check failed (against whatever copy). It is immutable once published.
type Verdict struct {
	Version files.Version
	Passed  []uint64
	Failed  []uint64
}

// verdictShards splits the verdicts so that a check's result copies a
// small map, not all of them.
const verdictShards = 64

// verdictMap holds the verdicts by path for the request path: reads are
// an atomic load and a map lookup, without lock or allocation; writes
// (serialised by the caller) copy one shard.
type verdictMap struct {
	shards [verdictShards]atomic.Pointer[map[string]*Verdict]
}

func shardOf(path string) int {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(path); i++ {
		h = (h ^ uint32(path[i])) * 16777619
	}
	return int(h % verdictShards)
}

// get returns the verdict on path, nil when there is none.
func (m *verdictMap) get(path string) *Verdict {
	p := m.shards[shardOf(path)].Load()
	if p == nil {
		return nil
	}
	return (*p)[path]
}

// set publishes d as the verdict on path (nil: none). Callers serialise
// writes.
func (m *verdictMap) set(path string, d *Verdict) {
	sh := &m.shards[shardOf(path)]
	var old map[string]*Verdict
	if p := sh.Load(); p != nil {
		old = *p
	}
	next := make(map[string]*Verdict, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	if d == nil {
		delete(next, path)
	} else {
		next[path] = d
	}
	sh.Store(&next)
}

// each calls fn for every verdict.
func (m *verdictMap) each(fn func(path string, d *Verdict)) {
	for i := range m.shards {
		if p := m.shards[i].Load(); p != nil {
			for k, v := range *p {
				fn(k, v)
			}
		}
	}
}

// replace makes all the verdicts. Callers serialise writes.
func (m *verdictMap) replace(all map[string]*Verdict) {
	var parts [verdictShards]map[string]*Verdict
	for k, v := range all {
		i := shardOf(k)
		if parts[i] == nil {
			parts[i] = map[string]*Verdict{}
		}
		parts[i][k] = v
	}
	for i := range parts {
		if parts[i] == nil {
			m.shards[i].Store(nil)
		} else {
			m.shards[i].Store(&parts[i])
		}
	}
}

// with returns the verdict d (nil: none yet) after a check of mirror
// against version ended with ok, for a pool of words mask words: a pass
// counts for that version only (passes against another copy are
// dropped), a failure stands until a pass. It returns nil when nothing is
// left to say.
func (d *Verdict) with(mirror int, version files.Version, ok bool, words int) *Verdict {
	n := &Verdict{Version: version, Passed: make([]uint64, words), Failed: make([]uint64, words)}
	if d != nil {
		copy(n.Failed, d.Failed)
		if d.Version == version {
			copy(n.Passed, d.Passed)
		}
	}
	bit, w := uint64(1)<<(mirror%64), mirror/64
	if ok {
		n.Passed[w] |= bit
		n.Failed[w] &^= bit
	} else {
		n.Passed[w] &^= bit
		n.Failed[w] |= bit
	}
	if bitmask.IsZero(n.Passed) && bitmask.IsZero(n.Failed) {
		return nil
	}
	return n
}

// fails reports whether mirror failed its last check in d.
func (d *Verdict) fails(mirror int) bool {
	return d != nil && bitmask.Word(d.Failed, mirror/64)>>(mirror%64)&1 == 1
}
