package files

import "context"

// Distrust forgets what is known of the files of the mirror named name,
// which comes back from being down or drained: it may have been
// reinstalled empty, or restored from an old backup. Until its next
// listing it is what a mirror never listed is, a last resort for a file
// no listed mirror holds; Relist (or the next Scan, first) lists it, and
// a listing of it begun before Distrust is not taken. A
// mirror without a listing source is assumed complete and left as it is
// (verify's passes of it expire within seconds). It reports whether the
// mirror was distrusted.
func (s *Scanner) Distrust(name string) bool {
	i := -1
	for j, m := range s.mirrors {
		if m.Name == name && m.Source != nil {
			i = j
		}
	}
	if i < 0 {
		return false
	}
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	v := s.view.Load()
	if v == nil || i >= len(v.held) {
		return false
	}
	h := unlisted(v.Index)
	s.swap(v.With(i, h), func() {
		s.distrusted[name]++
		delete(s.held, name)
		st := s.mStatus[name]
		st.Stats = h.Stats
		st.Err = "back from down or a drain: not trusted with files until it is listed again"
		s.mStatus[name] = st
	})
	return true
}

// Relist lists now the mirrors whose files are not known (distrusted, or
// never listed), against the last good origin listing: not the origin,
// not the other mirrors. With Redis, an instance that does not hold the
// lease leaves it to the one that does, and adopts its results.
func (s *Scanner) Relist(ctx context.Context) {
	s.scanning.Lock()
	defer s.scanning.Unlock()
	if s.share != nil && s.leader != nil && !s.leader(ctx) {
		return
	}
	v := s.view.Load()
	s.mu.Lock()
	ix := s.ix
	s.mu.Unlock()
	if v == nil || ix == nil || v.Index != ix {
		return // no origin listing yet, or one the View does not reflect: Scan comes
	}
	var which []int
	for i, m := range s.mirrors {
		if m.Source != nil && i < len(v.held) && (v.held[i] == nil || !v.held[i].Listed()) {
			which = append(which, i)
		}
	}
	if len(which) == 0 {
		return
	}
	batch := &swapBatcher{s: s, every: s.swapEvery}
	s.scanMirrors(ctx, ix, which, 0, batch.add)
	batch.flush()
	if s.share != nil {
		s.publish(ctx)
	}
}
