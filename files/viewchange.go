package files

import "math/bits"

// How a View changes: a mirror's new listing (With, WithAll), a new
// origin listing (Carry) and a new list of mirrors (Remap). Each returns
// a new View and leaves the old one unchanged.

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
