package files

// Distrust forgets what is known of the files of the mirror named name,
// which comes back from being down or drained: it may have been
// reinstalled empty, or restored from an old backup. Until its next
// listing it is what a mirror never listed is, a last resort for a file
// no listed mirror holds; the next Scan lists it first, before the
// others, and a listing of it begun before Distrust is not taken. A
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
