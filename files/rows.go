package files

import (
	"strings"
	"unsafe"
)

// The rows of a View: the distinct sets of holders, one word per 64
// mirrors, interned in a table and numbered; and how a View's rows are
// built from the mirrors' columns, 64 files by 64 mirrors at a time.

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
	key := rowKey(row)
	if k, ok := t.index[key]; ok {
		return k
	}
	k := uint32(len(t.index))
	t.bits = append(t.bits, row...)
	t.index[strings.Clone(key)] = k
	return k
}

// rowKey is a view of row's bytes, for a look-up in a rowTable's index
// only: it must not be kept.
func rowKey(row []uint64) string {
	if len(row) == 0 {
		return ""
	}
	return unsafe.String((*byte)(unsafe.Pointer(&row[0])), 8*len(row))
}

// row returns row k. It must not be modified.
func (t *rowTable) row(k uint32) []uint64 {
	a, b := int(k)*t.words, (int(k)+1)*t.words
	return t.bits[a:b:b]
}

// lookup returns the number of row, or noRow.
func (t *rowTable) lookup(row []uint64) uint32 {
	if k, ok := t.index[rowKey(row)]; ok {
		return k
	}
	return noRow
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
