package files

import (
	"math/bits"
)

// Stats counts what a mirror holds of an origin: Held files have the
// origin's size and an mtime no older than the origin's; Outdated ones are
// listed with another size or an older mtime; Missing ones are not listed.
type Stats struct {
	Held, Missing, Outdated int
}

// Holdings is what one mirror holds of an origin Index: a bit per origin
// file. It is immutable once returned.
type Holdings struct {
	bits  []uint64
	of    *Index // the index the bits number
	Stats Stats
	// unlisted marks a mirror with a listing source that has not been
	// listed yet: it holds nothing known, and is only a last resort.
	unlisted bool
}

// Has reports whether the mirror holds origin file id.
func (h *Holdings) Has(id int) bool { return h.bits[id/64]>>(id%64)&1 == 1 }

// Judge compares a mirror's listing with the origin: a file is held when
// the listing has it with the origin's size and a modification time no
// older than the origin's, and, for an apt release file, when every file
// it names is held too. Files the origin lacks are ignored.
func Judge(ix *Index, list func(fn func(Entry) error) error) (*Holdings, error) {
	h := &Holdings{bits: make([]uint64, (ix.Len()+63)/64), of: ix}
	err := list(func(e Entry) error {
		id, ok := ix.Lookup(e.Path)
		if !ok || h.Has(id) {
			return nil
		}
		if e.Size == ix.Size(id) && e.MTime >= ix.MTime(id) {
			h.bits[id/64] |= 1 << (id % 64)
			h.Stats.Held++
		} else {
			h.Stats.Outdated++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.Stats.Missing = ix.Len() - h.Stats.Held - h.Stats.Outdated
	ix.cohere(h)
	return h, nil
}

// same reports whether h and o were judged against the same index and
// hold the same files.
func (h *Holdings) same(o *Holdings) bool {
	if h == o {
		return true
	}
	if h == nil || o == nil || h.of != o.of || h.Stats != o.Stats || h.unlisted != o.unlisted {
		return false
	}
	for i := range h.bits {
		if h.bits[i] != o.bits[i] {
			return false
		}
	}
	return true
}

// Carry returns h judged against ix instead of the index it was made for:
// a file stays held when the new origin has it with the same size and
// mtime. It is how a mirror whose scan failed keeps its last good
// listing across a change of the origin.
func (h *Holdings) Carry(ix *Index) *Holdings {
	if h.of == ix {
		return h
	}
	if h.unlisted {
		return unlisted(ix)
	}
	n := &Holdings{bits: make([]uint64, (ix.Len()+63)/64), of: ix}
	to := ix.carried(h.of)
	for w, word := range h.bits {
		for word != 0 {
			old := 64*w + bits.TrailingZeros64(word)
			word &= word - 1
			if old >= len(to) {
				break // All's bits past the last file
			}
			if id := to[old]; id >= 0 {
				n.bits[id/64] |= 1 << (id % 64)
				n.Stats.Held++
			}
		}
	}
	n.Stats.Missing = ix.Len() - n.Stats.Held
	ix.cohere(n)
	return n
}

// none returns the Holdings of a mirror that holds nothing of ix.
func none(ix *Index) *Holdings {
	return &Holdings{bits: make([]uint64, (ix.Len()+63)/64), of: ix, Stats: Stats{Missing: ix.Len()}}
}

// unlisted returns the Holdings of a mirror not listed yet: nothing is
// known of it.
func unlisted(ix *Index) *Holdings {
	h := none(ix)
	h.unlisted = true
	return h
}

// Listed reports whether h comes from a listing (false: a mirror whose
// first listing has not come in yet).
func (h *Holdings) Listed() bool { return !h.unlisted }

// All returns the Holdings of a mirror assumed to hold every file of ix
// (one without rsync, until a check finds otherwise).
func All(ix *Index) *Holdings {
	h := &Holdings{bits: make([]uint64, (ix.Len()+63)/64), of: ix, Stats: Stats{Held: ix.Len()}}
	for i := range h.bits {
		h.bits[i] = ^uint64(0)
	}
	return h
}
