package files

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// randomView is a View of ix for n mirrors with random holdings: every
// seventh mirror without a listing (every file), every eleventh not
// listed yet, the others holding about two files in three.
func randomView(ix *Index, n int, r *rand.Rand) (*View, []*Holdings) {
	names := make([]string, n)
	hs := make([]*Holdings, n)
	for m := range names {
		names[m] = fmt.Sprint("m", m)
		switch {
		case m%7 == 3:
			continue
		case m%11 == 5:
			hs[m] = unlisted(ix)
			continue
		}
		h := none(ix)
		for id := range ix.Len() {
			if r.IntN(3) > 0 {
				h.bits[id/64] |= 1 << (id % 64)
				h.Stats.Held++
			}
		}
		h.Stats.Missing = ix.Len() - h.Stats.Held
		hs[m] = h
	}
	return NewView(ix, names, hs), hs
}

// numberedIndex is an Index of n files of size 1 and mtime 1, named by
// format and their number.
func numberedIndex(n int, format string) *Index {
	var b Builder
	for i := range n {
		b.Add(Entry{Path: fmt.Sprintf(format, i), Size: 1, MTime: 1}, nil)
	}
	return b.Build()
}

// holds reports whether v's row of file id has mirror m.
func holds(v *View, id, m int) bool {
	row, _ := v.Holders(id)
	return row[m/64]>>(m%64)&1 == 1
}

// TestViewCarry: carrying a View over a new origin listing keeps every
// mirror's holdings of the files the new origin has unchanged, gives a
// new or changed file to the mirrors without a listing only, and takes
// an apt release file from a mirror that lacks a file it names; the
// counts follow. It is checked against a mirror at a time.
func TestViewCarry(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	old := numberedIndex(1000, "pub/f%04d")
	v, hs := randomView(old, 130, r)

	// The new origin: a tenth of the files changed, the last 100 gone, 50
	// new, and a release file naming f0001 (changed) and f0002.
	var nb Builder
	for i := range 900 {
		e := old.Entry(i)
		if i%10 == 1 {
			e.MTime = 2
		}
		nb.Add(e, nil)
	}
	for i := range 50 {
		nb.Add(Entry{Path: fmt.Sprintf("new/g%02d", i), Size: 1, MTime: 1}, nil)
	}
	ix := nb.Build()
	rel, _ := ix.Lookup("pub/f0000")
	for _, p := range []string{"pub/f0001", "pub/f0002"} {
		req, _ := ix.Lookup(p)
		ix.require(rel, req)
	}

	c := v.Carry(ix)
	if c.Index != ix || !c.Serves(v.Mirrors) {
		t.Fatal("the carried View is not of the new origin and the same mirrors")
	}
	for m, h := range hs {
		held := 0
		for id := range ix.Len() {
			var want bool
			oldID, ok := old.Lookup(ix.Path(id))
			switch {
			case h == nil:
				want = true
			case !ok || !old.Is(oldID, ix.Entry(id)):
				want = false
			default:
				want = h.Has(oldID)
			}
			if id == rel && h != nil {
				want = false // it names f0001, which changed: no listed mirror holds it
			}
			if got := holds(c, id, m); got != want {
				t.Fatalf("mirror %d, %s: carried %v; want %v", m, ix.Path(id), got, want)
			}
			if want {
				held++
			}
		}
		switch got := c.held[m]; {
		case h == nil:
			if got != nil {
				t.Fatalf("mirror %d without a listing carried as %+v", m, got)
			}
		case h.unlisted:
			if !got.unlisted {
				t.Fatalf("mirror %d not listed yet carried as listed", m)
			}
		case got.Stats.Held != held || got.Stats.Held+got.Stats.Outdated+got.Stats.Missing != ix.Len():
			t.Fatalf("mirror %d: carried stats %+v; it holds %d of %d", m, got.Stats, held, ix.Len())
		}
	}
	if v.Carry(old) != v {
		t.Error("carrying a View over its own origin made a new one")
	}
}

// TestViewWith: a listing that holds what the mirror's column says
// gives the View back; one that says another count of the same column
// gives a View with the same rows; a summary (a failed listing) keeps the
// column; a changed listing changes that column only.
func TestViewWith(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	ix := numberedIndex(300, "f%03d")
	v, hs := randomView(ix, 70, r)
	if v.With(0, hs[0]) != v {
		t.Fatal("an unchanged listing made a new View")
	}
	recount := *hs[0]
	recount.Stats.Outdated, recount.Stats.Missing = 1, hs[0].Stats.Missing-1
	if n := v.With(0, &recount); n == v || n.rows != v.rows || n.held[0].Stats != recount.Stats {
		t.Fatal("a new count of the same files: want a new View over the same rows, with the count")
	}
	if n := v.With(0, hs[0].summary()); n != v {
		t.Fatal("a summary of the same listing made a new View")
	}
	changed := none(ix)
	for id := range ix.Len() {
		if !hs[0].Has(id) {
			changed.bits[id/64] |= 1 << (id % 64)
			changed.Stats.Held++
		}
	}
	n := v.With(0, changed)
	for id := range ix.Len() {
		for m := range v.Mirrors {
			want := holds(v, id, m)
			if m == 0 {
				want = changed.Has(id)
			}
			if holds(n, id, m) != want {
				t.Fatalf("after With(0): file %d mirror %d", id, m)
			}
		}
	}
	if n.held[0].bits != nil || n.held[0].Stats != changed.Stats {
		t.Fatalf("the View keeps %+v for the mirror; want its summary", n.held[0])
	}
}

// TestViewRemap: a reload that reorders, drops and adds mirrors keeps
// each remaining mirror's column and summary under its new position; a
// new mirror holds every file (no listing) or nothing (not listed yet).
func TestViewRemap(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	ix := numberedIndex(500, "f%03d")
	v, _ := randomView(ix, 80, r)
	names := []string{"m79", "new-all", "m0", "new-unlisted", "m10", "m3"}
	from := []int{79, -1, 0, -1, 10, 3}
	held := []*Holdings{nil, nil, nil, unlisted(ix), nil, nil}
	n := v.Remap(names, from, held)
	if !n.Serves(names) {
		t.Fatal("the remapped View does not serve the new mirrors")
	}
	for id := range ix.Len() {
		for i, f := range from {
			want := f < 0 && held[i] == nil || f >= 0 && holds(v, id, f)
			if holds(n, id, i) != want {
				t.Fatalf("file %d, mirror %s: %v; want %v", id, names[i], holds(n, id, i), want)
			}
		}
	}
	if n.held[0] != v.held[79] || n.held[1] != nil || !n.held[3].unlisted || n.held[3].bits != nil {
		t.Fatal("summaries not carried with the columns")
	}
}

// TestAdoptRejects: a published View that does not hold together is
// refused with an error, never a panic or a wrong View.
func TestAdoptRejects(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	ix := numberedIndex(200, "f%03d")
	v, _ := randomView(ix, 70, r)
	good := shareView(v, time.Now())
	adopted, err := good.adopt()
	if err != nil {
		t.Fatal(err)
	}
	for id := range ix.Len() {
		a, aAll := adopted.Holders(id)
		w, wAll := v.Holders(id)
		if !slices.Equal(a, w) || aAll != wAll {
			t.Fatalf("file %d: adopted holders %x, published %x", id, a, w)
		}
	}
	if !slices.Equal(adopted.Unsure(), v.Unsure()) {
		t.Fatalf("adopted unsure %x; published %x", adopted.Unsure(), v.Unsure())
	}
	for name, spoil := range map[string]func(p *sharedView){
		"row number past the rows": func(p *sharedView) { p.RowOf[3] = uint32(len(p.Rows)) },
		"a row past the mirrors":   func(p *sharedView) { p.Rows[1] |= 1 << 63 },
		"rows of another width":    func(p *sharedView) { p.Rows = p.Rows[:len(p.Rows)-1] },
		"fewer row numbers":        func(p *sharedView) { p.RowOf = p.RowOf[1:] },
		"fewer mirror stats":       func(p *sharedView) { p.Stats = p.Stats[1:] },
		"unlisted of another pool": func(p *sharedView) { p.Unlisted = make([]bool, 3) },
	} {
		p := *shareView(v, time.Now())
		p.RowOf = slices.Clone(p.RowOf)
		p.Rows = slices.Clone(p.Rows)
		spoil(&p)
		if _, err := p.adopt(); err == nil {
			t.Errorf("%s: adopted", name)
		}
	}
}

// TestHolderMasks: the masks to prepare are the rows of the files that
// some mirrors hold and others do not, the most files first, then the
// mask of the mirrors not listed yet; never the row of every mirror, nor
// an empty one, and no more than asked.
func TestHolderMasks(t *testing.T) {
	ix := numberedIndex(100, "f%03d")
	// m0 holds every file, m1 all but 10 files, m2 the first 30 files;
	// m3 is not listed yet.
	m1, m2 := All(ix), none(ix)
	for id := range 10 {
		m1.bits[0] &^= 1 << id
	}
	for id := range 30 {
		m2.bits[0] |= 1 << id
	}
	v := NewView(ix, []string{"m0", "m1", "m2", "m3"}, []*Holdings{All(ix), m1, m2, unlisted(ix)})
	// Rows: files 0-9 {m0, m2}, 10-29 {m0, m1, m2}, 30-99 {m0, m1}.
	got := v.HolderMasks(10)
	want := [][]uint64{{0b0011}, {0b0111}, {0b0101}, {0b1000}}
	if len(got) != len(want) {
		t.Fatalf("masks %v; want %v", got, want)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("masks %v; want %v", got, want)
		}
	}
	if got := v.HolderMasks(2); len(got) != 2 || got[0][0] != 0b0011 {
		t.Fatalf("two masks: %v", got)
	}
}
