package files

import (
	"cmp"
	"slices"

	"github.com/dispatcher/dispatcher/internal/bitmask"
)

// View is what a pool's requests need of its files, swapped in whole like
// a snapshot: the origin's Index and, per origin file, which of the
// pool's mirrors hold it, as a row of bits in the mirrors' order. A
// mirror network has few distinct rows (the mirrors that are up to date,
// and a few that lag in their own ways), so each file names its row by
// number in a table of the distinct ones: 4 bytes a file, whatever the
// number of mirrors. It is immutable and safe for concurrent use.
type View struct {
	Index *Index
	// Mirrors are the names of the pool's mirrors, in the order of the
	// bits: a View serves a pool whose mirrors are these, in this order.
	Mirrors []string
	words   int
	rowOf   []uint32 // per file, its row in rows
	rows    *rowTable
	fullRow uint32      // the row of every mirror (noRow: none has it)
	held    []*Holdings // per mirror, the summary of its column (nil: every file)
	// assumed are the mirrors without a listing source, whose rows say
	// they hold every file; unlisted those with one that has not been
	// listed yet (their rows are empty). nil when there are none.
	assumed, unlisted []uint64
	unsure            []uint64 // assumed | unlisted
}

// NewView builds the View of ix for mirrors (names, in the pool's order)
// and their holdings (nil: holds every file), each with its bits. It
// costs O(files × mirrors/64) word operations.
func NewView(ix *Index, mirrors []string, holdings []*Holdings) *View {
	v := &View{Index: ix, Mirrors: mirrors, words: (len(mirrors) + 63) / 64, held: make([]*Holdings, len(mirrors))}
	cols := make([]column, len(mirrors))
	for m := range mirrors {
		cols[m].mirror = m
		if m < len(holdings) && holdings[m] != nil {
			cols[m].bits = holdings[m].bits
			v.held[m] = holdings[m].summary()
		}
	}
	v.rowOf, v.rows = buildRows(ix.Len(), v.words, nil, cols)
	v.finish()
	return v
}

// finish sets what v derives from its rows and holdings.
func (v *View) finish() {
	full := make([]uint64, v.words)
	for m := range v.Mirrors {
		full[m/64] |= 1 << (m % 64)
	}
	v.fullRow = v.rows.lookup(full)
	v.masks()
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

// Holders returns the mirrors that hold origin file id, as a mask for
// strategy.Client.Only, and whether every mirror does (then no mask is
// needed). The mask must not be modified.
func (v *View) Holders(id int) (mask []uint64, all bool) {
	k := v.rowOf[id]
	return v.rows.row(k), k == v.fullRow
}

// HolderMasks returns at most n of the masks requests for v's files pass
// to the strategies (Choice.Only without verify), the most files first:
// the distinct rows held by some mirror and not by all, and, when some
// mirror is not listed yet, the mask of those (the holders of a file no
// listed mirror has) after them. The masks must not be modified. It costs a pass
// over the files' row numbers.
func (v *View) HolderMasks(n int) [][]uint64 {
	files := make([]int, len(v.rows.index))
	for _, k := range v.rowOf {
		files[k]++
	}
	ks := make([]uint32, 0, len(files))
	for k, c := range files {
		if c > 0 && uint32(k) != v.fullRow && !bitmask.IsZero(v.rows.row(uint32(k))) {
			ks = append(ks, uint32(k))
		}
	}
	slices.SortFunc(ks, func(a, b uint32) int { return cmp.Compare(files[b], files[a]) })
	var masks [][]uint64
	for _, k := range ks[:min(n, len(ks))] {
		masks = append(masks, v.rows.row(k))
	}
	if v.unlisted != nil && len(masks) < n {
		masks = append(masks, v.unlisted)
	}
	return masks
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
