package files

import (
	"math/bits"

	"github.com/dispatcher/dispatcher/internal/bitmask"
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

// View is what a pool's requests need of its files, swapped in whole like
// a snapshot: the origin's Index and, per origin file, which of the
// pool's mirrors hold it, as a row of bits in the mirrors' order. It is
// immutable and safe for concurrent use.
type View struct {
	Index *Index
	// Mirrors are the names of the pool's mirrors, in the order of the
	// bits: a View serves a pool whose mirrors are these, in this order.
	Mirrors []string
	words   int
	rows    []uint64
	full    []uint64
	held    []*Holdings // per mirror, what the rows were made of
	// assumed are the mirrors without a listing source, whose rows say
	// they hold every file; unlisted those with one that has not been
	// listed yet (their rows are empty). nil when there are none.
	assumed, unlisted []uint64
	unsure            []uint64 // assumed | unlisted
}

// NewView builds the View of ix for mirrors (names, in the pool's order)
// and their holdings (nil: holds every file). It costs O(files × mirrors).
func NewView(ix *Index, mirrors []string, holdings []*Holdings) *View {
	v := &View{Index: ix, Mirrors: mirrors, words: (len(mirrors) + 63) / 64, held: make([]*Holdings, len(mirrors))}
	copy(v.held, holdings)
	v.rows = make([]uint64, ix.Len()*v.words)
	v.full = make([]uint64, v.words)
	for m := range mirrors {
		v.full[m/64] |= 1 << (m % 64)
	}
	// A block of 64 files by 64 mirrors at a time: 64 words of the
	// mirrors' holdings, transposed, are 64 words of the files' rows. A
	// column at a time would touch every row once per mirror.
	var block [64]uint64
	for fb := range (ix.Len() + 63) / 64 {
		for w := range v.words {
			for j := range 64 {
				block[j] = 0
				if m := 64*w + j; m < len(holdings) {
					if h := holdings[m]; h == nil {
						block[j] = ^uint64(0)
					} else {
						block[j] = h.bits[fb]
					}
				}
			}
			transpose64(&block)
			for i := range min(64, ix.Len()-64*fb) {
				v.rows[(64*fb+i)*v.words+w] = block[i]
			}
		}
	}
	v.masks()
	return v
}

// transpose64 transposes a 64×64 bit matrix in place: bit i of a[j]
// becomes bit j of a[i] (Warren, Hacker's Delight, 7-3, for bits numbered
// from the least significant).
func transpose64(a *[64]uint64) {
	m := uint64(0x00000000FFFFFFFF)
	for j := 32; j != 0; j, m = j>>1, m^(m<<(j>>1)) {
		for k := 0; k < 64; k = (k + j + 1) &^ j {
			t := (a[k]>>j ^ a[k+j]) & m
			a[k+j] ^= t
			a[k] ^= t << j
		}
	}
}

// masks sets v.assumed and v.unlisted from v.held.
func (v *View) masks() {
	v.assumed, v.unlisted = nil, nil
	for m, h := range v.held {
		var mask *[]uint64
		switch {
		case h == nil:
			mask = &v.assumed
		case h.unlisted:
			mask = &v.unlisted
		default:
			continue
		}
		if *mask == nil {
			*mask = make([]uint64, v.words)
		}
		(*mask)[m/64] |= 1 << (m % 64)
	}
	switch {
	case v.unlisted == nil:
		v.unsure = v.assumed
	case v.assumed == nil:
		v.unsure = v.unlisted
	default:
		v.unsure = make([]uint64, v.words)
		for w := range v.unsure {
			v.unsure[w] = v.assumed[w] | v.unlisted[w]
		}
	}
}

// With returns v with mirror m's holdings replaced by h (judged against
// v.Index; nil: every file), or v itself when they are the same. It costs
// a copy of the rows, O(files × mirrors/64), and leaves v unchanged.
func (v *View) With(m int, h *Holdings) *View {
	if v.held[m].same(h) {
		return v
	}
	n := &View{Index: v.Index, Mirrors: v.Mirrors, words: v.words, full: v.full,
		rows: make([]uint64, len(v.rows)), held: append([]*Holdings(nil), v.held...)}
	n.held[m] = h
	bit, w := uint64(1)<<(m%64), m/64
	copy(n.rows, v.rows)
	for id := range v.Index.Len() {
		if h == nil || h.Has(id) {
			n.rows[id*v.words+w] |= bit
		} else {
			n.rows[id*v.words+w] &^= bit
		}
	}
	n.masks()
	return n
}

// WithAll is With for several mirrors at once (mirror → holdings): a few
// changes are applied one by one, more rebuild the rows in one pass. It
// returns v itself when nothing changes.
func (v *View) WithAll(changes map[int]*Holdings) *View {
	held := append([]*Holdings(nil), v.held...)
	var changed []int
	for m, h := range changes {
		if !v.held[m].same(h) {
			held[m] = h
			changed = append(changed, m)
		}
	}
	if len(changed) > withAllOneByOne {
		return NewView(v.Index, v.Mirrors, held)
	}
	for _, m := range changed {
		v = v.With(m, held[m])
	}
	return v
}

// withAllOneByOne is the most changes WithAll applies one at a time: each
// copies the rows once, where a rebuild costs a few copies.
const withAllOneByOne = 4

// Holders returns the mirrors that hold origin file id, as a mask for
// strategy.Client.Only, and whether every mirror does (then no mask is
// needed). The mask must not be modified.
func (v *View) Holders(id int) (mask []uint64, all bool) {
	mask = v.rows[id*v.words : (id+1)*v.words : (id+1)*v.words]
	for w := range mask {
		if mask[w] != v.full[w] {
			return mask, false
		}
	}
	return mask, true
}

// Serves reports whether v was built for a pool whose mirrors are names,
// in this order.
func (v *View) Serves(names []string) bool {
	if len(names) != len(v.Mirrors) {
		return false
	}
	for i := range names {
		if names[i] != v.Mirrors[i] {
			return false
		}
	}
	return true
}

// Choice is where a request for a file may go: the mirrors in Only (nil:
// any mirror). Confirmed is false when no mirror is known to hold the
// file and Only are those that might (not listed yet, or, with checks,
// not checked yet): a pool with a fallback sends the request there
// instead.
type Choice struct {
	Only      []uint64
	Confirmed bool
}

// Choose is the one rule for which mirrors may get origin file id.
// Without checks (verify off, passed and failed nil), a mirror holds the
// file when its listing has it or it has no listing source (assumed to
// hold every file). With checks, a mirror without a listing counts only
// once it passed a check against the origin's current copy (passed), a
// listed holder counts unless it failed its last check (failed), and one
// that failed its last check never counts. A mirror not listed yet is
// never preferred over one known to hold the file: it is in Only only
// when no mirror is confirmed. The masks are not modified; Only may be
// one of them.
func (v *View) Choose(id int, checked bool, passed, failed []uint64) Choice {
	row, all := v.Holders(id)
	if !checked {
		if v.unlisted == nil || !bitmask.IsZero(row) {
			if all {
				return Choice{Confirmed: true}
			}
			return Choice{Only: row, Confirmed: true}
		}
		return Choice{Only: v.unlisted}
	}
	only := make([]uint64, v.words)
	confirmed := false
	for w := range only {
		only[w] = (row[w]&^bitmask.Word(v.assumed, w) | bitmask.Word(passed, w)&bitmask.Word(v.unsure, w)) &^ bitmask.Word(failed, w)
		confirmed = confirmed || only[w] != 0
	}
	if !confirmed {
		for w := range only {
			only[w] = bitmask.Word(v.unsure, w) &^ bitmask.Word(failed, w)
		}
	}
	return Choice{Only: only, Confirmed: confirmed}
}

// Check returns what a check of origin file id, at path, needs. It
// allocates nothing.
func (v *View) Check(id int, path string) Check {
	holders, _ := v.Holders(id)
	return Check{Path: path, Version: v.Index.Version(id), Holders: holders, Unsure: v.Unsure(), Requires: v.Index.Requires(id)}
}

// Unsure returns the mirrors whose holding of a file only a check can
// tell (no listing source, or not listed yet); nil when none. It must not
// be modified.
func (v *View) Unsure() []uint64 { return v.unsure }
