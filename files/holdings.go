package files

// Stats counts what a mirror holds of an origin: Held files have the
// origin's size and an mtime no older than the origin's; Outdated ones are
// listed with another size or an older mtime; Missing ones are not listed.
type Stats struct {
	Held, Missing, Outdated int
}

// Holdings is what one mirror holds of an origin Index: a bit per origin
// file, as a listing is judged. A View takes the bits into its rows and
// keeps only the rest (summary): the View's rows are the one record of
// what every mirror holds, so a million files cost no bitmap per mirror.
// It is immutable once returned.
type Holdings struct {
	bits  []uint64 // nil in a summary
	of    *Index   // the index the bits number
	Stats Stats
	// unlisted marks a mirror with a listing source that has not been
	// listed yet: it holds nothing known, and is only a last resort.
	unlisted bool
}

// summary returns h without its bits: what a View and a Scanner keep once
// the bits are in the View's rows.
func (h *Holdings) summary() *Holdings {
	if h == nil || h.bits == nil {
		return h
	}
	return &Holdings{of: h.of, Stats: h.Stats, unlisted: h.unlisted}
}

// Has reports whether the mirror holds origin file id. h must have its
// bits (not a summary).
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
