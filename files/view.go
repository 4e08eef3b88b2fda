package files

import (
	"strings"
	"unsafe"

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
	held    []*Holdings // per mirror, what the rows were made of
	// assumed are the mirrors without a listing source, whose rows say
	// they hold every file; unlisted those with one that has not been
	// listed yet (their rows are empty). nil when there are none.
	assumed, unlisted []uint64
	unsure            []uint64 // assumed | unlisted
}

// noRow is a row number no row has.
const noRow = ^uint32(0)

// rowTable is the distinct rows of a View, each words long, numbered in
// the order they were added.
type rowTable struct {
	words int
	bits  []uint64          // row k at bits[k*words : (k+1)*words]
	index map[string]uint32 // a row's bytes → its number
}

func newRowTable(words int) *rowTable {
	return &rowTable{words: words, index: map[string]uint32{}}
}

// intern returns the number of row, adding it when it is new. row is
// copied.
func (t *rowTable) intern(row []uint64) uint32 {
	var key string
	if len(row) > 0 {
		// A view of row's bytes, for the lookup only.
		key = unsafe.String((*byte)(unsafe.Pointer(&row[0])), 8*len(row))
	}
	if k, ok := t.index[key]; ok {
		return k
	}
	k := uint32(len(t.index))
	t.bits = append(t.bits, row...)
	t.index[strings.Clone(key)] = k
	return k
}

// row returns row k. It must not be modified.
func (t *rowTable) row(k uint32) []uint64 {
	a, b := int(k)*t.words, (int(k)+1)*t.words
	return t.bits[a:b:b]
}

// lookup returns the number of row, or noRow.
func (t *rowTable) lookup(row []uint64) uint32 {
	var key string
	if len(row) > 0 {
		key = unsafe.String((*byte)(unsafe.Pointer(&row[0])), 8*len(row))
	}
	if k, ok := t.index[key]; ok {
		return k
	}
	return noRow
}

// NewView builds the View of ix for mirrors (names, in the pool's order)
// and their holdings (nil: holds every file). It costs O(files ×
// mirrors/64) word operations.
func NewView(ix *Index, mirrors []string, holdings []*Holdings) *View {
	v := &View{Index: ix, Mirrors: mirrors, words: (len(mirrors) + 63) / 64, held: make([]*Holdings, len(mirrors))}
	copy(v.held, holdings)
	v.rowOf = make([]uint32, ix.Len())
	v.rows = newRowTable(v.words)
	// A block of 64 files by 64 mirrors at a time: 64 words of the
	// mirrors' holdings, transposed, are 64 words of the files' rows. A
	// column at a time would touch every row once per mirror.
	var block [64]uint64
	rows := make([]uint64, 64*v.words) // the block's 64 rows
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
			for i := range 64 {
				rows[i*v.words+w] = block[i]
			}
		}
		for i := range min(64, ix.Len()-64*fb) {
			v.rowOf[64*fb+i] = v.rows.intern(rows[i*v.words : (i+1)*v.words])
		}
	}
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
// a pass over the files' row numbers, and a new row for each distinct old
// row and value of m's bit; it leaves v unchanged.
func (v *View) With(m int, h *Holdings) *View {
	if v.held[m].same(h) {
		return v
	}
	n := &View{Index: v.Index, Mirrors: v.Mirrors, words: v.words, rowOf: make([]uint32, len(v.rowOf)),
		rows: newRowTable(v.words), held: append([]*Holdings(nil), v.held...)}
	n.held[m] = h
	bit, w := uint64(1)<<(m%64), m/64
	// moved[b][k] is old row k with m's bit b, in n's table (+1; 0: not
	// yet).
	nrows := len(v.rows.index)
	moved := [2][]uint32{make([]uint32, nrows), make([]uint32, nrows)}
	row := make([]uint64, v.words)
	for id, k := range v.rowOf {
		b := 0
		if h == nil || h.Has(id) {
			b = 1
		}
		if nk := moved[b][k]; nk > 0 {
			n.rowOf[id] = nk - 1
			continue
		}
		copy(row, v.rows.row(k))
		if b == 1 {
			row[w] |= bit
		} else {
			row[w] &^= bit
		}
		nk := n.rows.intern(row)
		moved[b][k] = nk + 1
		n.rowOf[id] = nk
	}
	n.finish()
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
// is a pass over the files, where a rebuild costs a few.
const withAllOneByOne = 4

// Holders returns the mirrors that hold origin file id, as a mask for
// strategy.Client.Only, and whether every mirror does (then no mask is
// needed). The mask must not be modified.
func (v *View) Holders(id int) (mask []uint64, all bool) {
	k := v.rowOf[id]
	return v.rows.row(k), k == v.fullRow
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
