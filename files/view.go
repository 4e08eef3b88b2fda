package files

import (
	"cmp"
	"math/bits"
	"slices"
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
	held    []*Holdings // per mirror, the summary of its column (nil: every file)
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

// column is a mirror's bit per file, to write into rows.
type column struct {
	mirror int
	bits   []uint64 // nil: every file
}

// buildRows numbers the rows of n files in a new table: each file's row
// is old's row for it (nil: none) with the columns of cols written in.
// It goes a block of 64 files by 64 mirrors at a time: 64 words of the
// rows, transposed, are 64 words of the mirrors' columns, and back. A
// column at a time would touch every row once per mirror.
func buildRows(n, words int, old *View, cols []column) ([]uint32, *rowTable) {
	rowOf := make([]uint32, n)
	t := newRowTable(words)
	byWord := make([][]column, words)
	for _, c := range cols {
		byWord[c.mirror/64] = append(byWord[c.mirror/64], c)
	}
	var block [64]uint64
	rows := make([]uint64, 64*words) // the block's 64 rows
	for fb := range (n + 63) / 64 {
		count := min(64, n-64*fb)
		clear(rows)
		if old != nil {
			for i := range count {
				copy(rows[i*words:(i+1)*words], old.rows.row(old.rowOf[64*fb+i]))
			}
		}
		for w, cs := range byWord {
			if len(cs) == 0 {
				continue
			}
			for i := range 64 {
				block[i] = rows[i*words+w]
			}
			transpose64(&block)
			for _, c := range cs {
				if c.bits == nil {
					block[c.mirror%64] = ^uint64(0)
				} else {
					block[c.mirror%64] = c.bits[fb]
				}
			}
			transpose64(&block)
			for i := range 64 {
				rows[i*words+w] = block[i]
			}
		}
		for i := range count {
			rowOf[64*fb+i] = t.intern(rows[i*words : (i+1)*words])
		}
	}
	return rowOf, t
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
// v.Index; nil: every file), or v itself when nothing changes.
func (v *View) With(m int, h *Holdings) *View { return v.WithAll(map[int]*Holdings{m: h}) }

// WithAll returns v with the holdings of several mirrors replaced
// (mirror → holdings, judged against v.Index; nil: every file; a summary,
// without bits: the mirror's column stays, as after a failed listing), or
// v itself when nothing changes. A listing that holds what the mirror's
// column says costs a pass over that column, and the rows are rebuilt
// once for all the changed columns: a pass over the files' rows. It
// leaves v unchanged.
func (v *View) WithAll(changes map[int]*Holdings) *View {
	held := append([]*Holdings(nil), v.held...)
	var cols []column
	changed := false
	for m, h := range changes {
		if h != nil && h.bits == nil || v.holdsColumn(m, h) {
			// The column stays; what is said of it may not.
			if !sameSummary(v.held[m], h) {
				held[m], changed = h.summary(), true
			}
			continue
		}
		c := column{mirror: m}
		if h != nil {
			c.bits = h.bits
		}
		cols = append(cols, c)
		held[m], changed = h.summary(), true
	}
	if !changed {
		return v
	}
	n := &View{Index: v.Index, Mirrors: v.Mirrors, words: v.words, held: held, rowOf: v.rowOf, rows: v.rows}
	if len(cols) > 0 {
		n.rowOf, n.rows = buildRows(v.Index.Len(), v.words, v, cols)
	}
	n.finish()
	return n
}

// sameSummary reports whether a and b say the same of a mirror's column.
func sameSummary(a, b *Holdings) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.of == b.of && a.Stats == b.Stats && a.unlisted == b.unlisted
}

// holdsColumn reports whether mirror m's column is h (nil: every file),
// judged against v.Index: a pass over the column when it may be.
func (v *View) holdsColumn(m int, h *Holdings) bool {
	old := v.held[m]
	switch {
	case h == nil || old == nil:
		return h == old
	case h.of != v.Index || h.unlisted != old.unlisted || h.Stats.Held != old.Stats.Held:
		return false
	}
	bit, w := uint64(1)<<(m%64), m/64
	for fb := range len(h.bits) {
		var col uint64
		for i := range min(64, len(v.rowOf)-64*fb) {
			if v.rows.bits[int(v.rowOf[64*fb+i])*v.words+w]&bit != 0 {
				col |= 1 << i
			}
		}
		if col != h.bits[fb] {
			return false
		}
	}
	return true
}

// Carry returns v for ix, a new listing of the origin: a file the new
// origin has with the same size and mtime keeps its row, so every mirror
// keeps what it held; a file new or changed is held by the mirrors
// assumed to hold every file only, until the next listings. An apt
// release file is held only where the files it names are (release.go).
// It costs a pass over the files, whatever the number of mirrors: it is
// what a change of the origin costs, and what a mirror whose listing
// fails keeps across it.
func (v *View) Carry(ix *Index) *View {
	if ix == v.Index {
		return v
	}
	n := &View{Index: ix, Mirrors: v.Mirrors, words: v.words, rowOf: make([]uint32, ix.Len()), rows: newRowTable(v.words),
		held: make([]*Holdings, len(v.held))}
	fresh := make([]uint64, v.words)
	copy(fresh, v.assumed)
	freshRow := n.rows.intern(fresh)
	for id := range n.rowOf {
		n.rowOf[id] = freshRow
	}
	moved := make([]uint32, len(v.rows.index)) // old row → new row + 1
	for old, id := range ix.carried(v.Index) {
		if id < 0 {
			continue
		}
		k := v.rowOf[old]
		if moved[k] == 0 {
			moved[k] = n.rows.intern(v.rows.row(k)) + 1
		}
		n.rowOf[id] = moved[k] - 1
	}
	outdated := ix.cohereRows(n, v.assumed)
	held := n.columnCounts()
	for m, h := range v.held {
		switch {
		case h == nil:
		case h.unlisted:
			n.held[m] = &Holdings{of: ix, Stats: Stats{Missing: ix.Len()}, unlisted: true}
		default:
			n.held[m] = &Holdings{of: ix, Stats: Stats{Held: held[m], Outdated: outdated[m], Missing: ix.Len() - held[m] - outdated[m]}}
		}
	}
	n.finish()
	return n
}

// columnCounts returns, per mirror, how many files its column holds.
func (v *View) columnCounts() []int {
	perRow := make([]int, len(v.rows.index))
	for _, k := range v.rowOf {
		perRow[k]++
	}
	counts := make([]int, len(v.Mirrors))
	for k, c := range perRow {
		if c == 0 {
			continue
		}
		for w, word := range v.rows.row(uint32(k)) {
			for word != 0 {
				counts[64*w+bits.TrailingZeros64(word)] += c
				word &= word - 1
			}
		}
	}
	return counts
}

// Remap returns v for another list of mirrors (a reload), over the same
// origin: mirror i of mirrors takes the column and summary of v's mirror
// from[i]; when from[i] is -1, it holds every file (held[i] nil) or
// nothing (held[i], a summary, then says why). It costs a pass over the
// files' row numbers.
func (v *View) Remap(mirrors []string, from []int, held []*Holdings) *View {
	n := &View{Index: v.Index, Mirrors: mirrors, words: (len(mirrors) + 63) / 64, rowOf: make([]uint32, len(v.rowOf)),
		held: make([]*Holdings, len(mirrors))}
	n.rows = newRowTable(n.words)
	row := make([]uint64, n.words)
	moved := make([]uint32, len(v.rows.index)) // old row → new row + 1
	for id, k := range v.rowOf {
		if moved[k] == 0 {
			old := v.rows.row(k)
			clear(row)
			for i, f := range from {
				if f >= 0 && old[f/64]>>(f%64)&1 == 1 || f < 0 && held[i] == nil {
					row[i/64] |= 1 << (i % 64)
				}
			}
			moved[k] = n.rows.intern(row) + 1
		}
		n.rowOf[id] = moved[k] - 1
	}
	for i, f := range from {
		if f >= 0 {
			n.held[i] = v.held[f]
		} else {
			n.held[i] = held[i].summary()
		}
	}
	n.finish()
	return n
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
