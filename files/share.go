package files

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/dispatcher/dispatcher/internal/gobzip"
)

// Sharer carries one instance's scan results to the others (the server
// implements it with Redis: two keys per pool, whatever the number of
// files or mirrors).
type Sharer interface {
	// Publish stores status as the pool's latest scan status and, when
	// view is not nil, view as its latest View, tagged version.
	Publish(ctx context.Context, pool, version string, view, status []byte) error
	// Fetch returns the pool's latest status, and its latest View unless
	// its version is have (view is nil then, or when none was published).
	Fetch(ctx context.Context, pool, have string) (version string, view, status []byte, err error)
	// Version returns the version of the pool's latest View ("" when
	// there is none: never published, or lost with a flush or a restart
	// of the store).
	Version(ctx context.Context, pool string) (string, error)
}

// sharedView is a View as a leader hands it to the followers: the origin
// listing and the View's rows, which say what each mirror holds. It is
// published when it changes. At a million files and a thousand mirrors
// it is the files' row numbers (4 bytes a file before compression) and
// the few distinct rows, not a bitmap per mirror.
type sharedView struct {
	Origin  []Entry
	Sums    map[int][32]byte // by position in Origin
	Mirrors []string
	RowOf   []uint32 // per origin file, its row in Rows
	Rows    []uint64 // the distinct rows, (len(Mirrors)+63)/64 words each
	Assumed []bool   // per mirror: no listing source, holds every file
	// Unlisted marks, per mirror, one with a listing source not listed
	// yet (nil: none).
	Unlisted []bool
	Stats    []Stats // per mirror
	// Requires lists, per apt release file (by position in Origin), the
	// files it names, by position in Origin.
	Requires map[int][]int
	Version  string
	Produced time.Time
}

// sharedStatus is the state of a leader's scans, published after every
// scan: the View may be unchanged while the scans go on.
type sharedStatus struct {
	Version string // of the View it describes
	OStatus OriginStatus
	Mirrors []string
	MStatus []MirrorStatus
}

// shareView packs v.
func shareView(v *View, at time.Time) *sharedView {
	ix := v.Index
	p := &sharedView{Mirrors: v.Mirrors, Produced: at, Version: strconv.FormatInt(at.UnixNano(), 10)}
	p.Origin = make([]Entry, ix.Len())
	for id := range ix.Len() {
		p.Origin[id] = ix.Entry(id)
		if sum, ok := ix.SHA256(id); ok {
			if p.Sums == nil {
				p.Sums = map[int][32]byte{}
			}
			p.Sums[id] = sum
		}
	}
	p.Requires = ix.requires
	p.RowOf, p.Rows = v.rowOf, v.rows.bits
	p.Assumed = make([]bool, len(v.held))
	p.Stats = make([]Stats, len(v.held))
	for m, h := range v.held {
		switch {
		case h == nil:
			p.Assumed[m] = true
		case h.unlisted:
			if p.Unlisted == nil {
				p.Unlisted = make([]bool, len(v.held))
			}
			p.Unlisted[m] = true
			fallthrough
		default:
			p.Stats[m] = h.Stats
		}
	}
	return p
}

// adopt rebuilds the View a leader published.
func (p *sharedView) adopt() (*View, error) {
	var b Builder
	for id, e := range p.Origin {
		if err := CheckPath(e.Path); err != nil {
			return nil, fmt.Errorf("published origin: %w", err)
		}
		if sum, ok := p.Sums[id]; ok {
			b.Add(e, &sum)
		} else {
			b.Add(e, nil)
		}
	}
	ix := b.Build()
	for id, reqs := range p.Requires {
		for _, req := range reqs {
			if id < 0 || id >= ix.Len() || req < 0 || req >= ix.Len() {
				return nil, fmt.Errorf("published origin: release file %d names file %d of %d", id, req, ix.Len())
			}
			ix.require(id, req)
		}
	}
	words := (len(p.Mirrors) + 63) / 64
	if len(p.Assumed) != len(p.Mirrors) || len(p.Stats) != len(p.Mirrors) || p.Unlisted != nil && len(p.Unlisted) != len(p.Mirrors) {
		return nil, fmt.Errorf("published holdings are for %d mirrors, not %d", len(p.Stats), len(p.Mirrors))
	}
	if len(p.RowOf) != ix.Len() || words > 0 && len(p.Rows)%words != 0 || words == 0 && len(p.Rows) != 0 {
		return nil, fmt.Errorf("published rows (%d words for %d files) do not match %d mirrors and the origin", len(p.Rows), len(p.RowOf), len(p.Mirrors))
	}
	v := &View{Index: ix, Mirrors: p.Mirrors, words: words, rowOf: make([]uint32, ix.Len()), rows: newRowTable(words),
		held: make([]*Holdings, len(p.Mirrors))}
	nrows := 0
	if words > 0 {
		nrows = len(p.Rows) / words
	}
	// Interned again: the numbers of a row published twice become one.
	number := make([]uint32, nrows)
	for k := range nrows {
		row := p.Rows[k*words : (k+1)*words]
		if words > 0 && len(p.Mirrors)%64 != 0 && row[words-1]>>(len(p.Mirrors)%64) != 0 {
			return nil, fmt.Errorf("published row %d names mirrors past the %d", k, len(p.Mirrors))
		}
		number[k] = v.rows.intern(row)
	}
	for id, k := range p.RowOf {
		if int(k) >= nrows {
			return nil, fmt.Errorf("published row number %d of file %d is past the %d rows", k, id, nrows)
		}
		v.rowOf[id] = number[k]
	}
	for m := range p.Mirrors {
		if !p.Assumed[m] {
			v.held[m] = &Holdings{of: ix, Stats: p.Stats[m], unlisted: p.Unlisted != nil && p.Unlisted[m]}
		}
	}
	v.finish()
	return v, nil
}

// publish hands the state of the scans to the other instances, with the
// View when it changed since it was last published.
func (s *Scanner) publish(ctx context.Context) {
	v := s.view.Load()
	s.mu.Lock()
	st := &sharedStatus{OStatus: s.oStatus, Mirrors: v.Mirrors, MStatus: make([]MirrorStatus, len(v.Mirrors))}
	for i, name := range v.Mirrors {
		st.MStatus[i] = s.mStatus[name]
	}
	version, shared := s.have, s.shared
	s.mu.Unlock()
	var view []byte
	var err error
	if v != shared {
		p := shareView(v, time.Now())
		version = p.Version
		view, err = gobzip.Encode(p)
	}
	var status []byte
	if err == nil {
		st.Version = version
		status, err = gobzip.Encode(st)
	}
	if err == nil {
		err = s.share.Publish(ctx, s.pool, version, view, status)
	}
	if err != nil {
		s.log.Warn("file scan results not shared", "err", err.Error())
		return
	}
	s.mu.Lock()
	s.have, s.shared = version, v
	s.mu.Unlock()
}

// follow adopts the leader's latest View, when it is newer than the one
// adopted last and was made for the same mirrors, and the status of its
// scans.
func (s *Scanner) follow(ctx context.Context) {
	s.mu.Lock()
	have := s.have
	s.mu.Unlock()
	version, data, status, err := s.share.Fetch(ctx, s.pool, have)
	if err != nil {
		s.log.Warn("file scan results of the leader not read; keeping the last ones", "err", err.Error())
		return
	}
	if data != nil {
		s.adoptView(version, data)
	}
	if status == nil {
		return
	}
	var st sharedStatus
	if err := gobzip.Decode(status, &st); err != nil {
		s.log.Warn("file scan status of the leader cannot be read", "err", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.Version != s.have || len(st.MStatus) != len(st.Mirrors) {
		return // for another View: the next one will match
	}
	s.oStatus = st.OStatus
	for i, name := range st.Mirrors {
		s.mStatus[name] = st.MStatus[i]
	}
}

// adoptView swaps in a View the leader published as version.
func (s *Scanner) adoptView(version string, data []byte) {
	var p sharedView
	err := gobzip.Decode(data, &p)
	var v *View
	if err == nil {
		v, err = p.adopt()
	}
	if err != nil {
		s.log.Warn("file scan results of the leader cannot be read", "err", err.Error())
		return
	}
	names := make([]string, len(s.mirrors))
	for i, m := range s.mirrors {
		names[i] = m.Name
	}
	if !v.Serves(names) {
		s.log.Info("the leader's file scan is for other mirrors (a reload in progress); waiting for the next")
		return
	}
	s.swap(v, func() {
		s.ix, s.have, s.shared = v.Index, version, v
		for i, name := range v.Mirrors {
			if h := v.held[i]; h != nil {
				s.held[name] = h
			}
		}
	})
	s.adopted.Add(1)
}

// republishIfLost publishes this leader's View and status again when the
// shared copy is not the one it published last: gone with a FLUSHALL or
// a restart of Redis without persistence, or overwritten. Followers
// started since then adopt it within followEvery.
func (s *Scanner) republishIfLost(ctx context.Context) {
	s.mu.Lock()
	have := s.have
	s.mu.Unlock()
	if have == "" || s.view.Load() == nil {
		return // nothing published yet: the scan will
	}
	version, err := s.share.Version(ctx, s.pool)
	if err != nil || version == have {
		return // an unreachable store is reported by the next scan
	}
	s.log.Warn("shared file scan results lost or replaced; publishing them again", "have", have, "found", version)
	s.mu.Lock()
	s.shared = nil
	s.mu.Unlock()
	s.publish(ctx)
}
