package files

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// ScanMirror is one mirror of a pool as the scanner sees it.
type ScanMirror struct {
	Name string
	// Source lists the mirror's tree; nil: the mirror is assumed to hold
	// every origin file.
	Source Source
}

// OriginStatus is the state of a pool's origin for /api/status.
type OriginStatus struct {
	Files    int
	LastScan time.Time
	Err      string
}

// MirrorStatus is the state of one mirror's files for /api/status.
type MirrorStatus struct {
	Stats
	Listed   bool // false: no rsync, assumed to hold every file
	LastScan time.Time
	Err      string
}

// Scanner keeps a pool's View up to date: it lists the origin and every
// mirror with rsync, judges what each holds, and swaps in a new View. A
// listing that fails keeps the last good one (and says so in the status
// and the log). It is safe for concurrent use.
type Scanner struct {
	pool     string
	origin   Source
	mirrors  []ScanMirror
	hashes   bool
	timeout  time.Duration
	parallel int
	log      *slog.Logger
	onChange func()

	view atomic.Pointer[View]

	// leader and share split the work between instances (nil: this
	// instance scans for itself).
	leader  func(context.Context) bool
	share   Sharer
	have    string        // version of the results adopted last
	scans   atomic.Uint64 // scans run here
	adopted atomic.Uint64 // results adopted from the leader

	mu       sync.Mutex // guards the state below; held briefly
	ix       *Index     // the last good origin index
	held     map[string]*Holdings
	sums     map[string]sumEntry // by path: SHA-256 of a size and mtime
	oStatus  OriginStatus
	mStatus  map[string]MirrorStatus
	scanning sync.Mutex // one scan at a time
}

type sumEntry struct {
	size, mtime int64
	sum         [32]byte
}

// ScannerOptions configure NewScanner.
type ScannerOptions struct {
	Pool    string
	Origin  Source
	Mirrors []ScanMirror
	// Hashes computes the SHA-256 of every origin file (directory origins).
	Hashes bool
	// Timeout bounds one listing.
	Timeout time.Duration
	// Parallel bounds the mirror listings run at once (default 4).
	Parallel int
	Log      *slog.Logger
	// OnChange is called after a new View is swapped in.
	OnChange func()
	// Leader reports whether this instance scans now (the feedback
	// lease); the others adopt what it publishes through Share. Both nil:
	// every instance scans for itself.
	Leader func(context.Context) bool
	Share  Sharer
}

// NewScanner returns a Scanner; View is nil until the first Scan.
func NewScanner(o ScannerOptions) *Scanner {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.OnChange == nil {
		o.OnChange = func() {}
	}
	return &Scanner{pool: o.Pool, origin: o.Origin, mirrors: o.Mirrors, hashes: o.Hashes, timeout: o.Timeout,
		parallel: o.Parallel, log: o.Log.With("component", "files", "pool", o.Pool), onChange: o.OnChange,
		leader: o.Leader, share: o.Share,
		held: map[string]*Holdings{}, sums: map[string]sumEntry{}, mStatus: map[string]MirrorStatus{}}
}

// View returns the current View (nil before the first good origin scan).
func (s *Scanner) View() *View { return s.view.Load() }

// Status returns the state of the origin and of every mirror, by name.
func (s *Scanner) Status() (OriginStatus, map[string]MirrorStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := make(map[string]MirrorStatus, len(s.mStatus))
	for k, v := range s.mStatus {
		ms[k] = v
	}
	return s.oStatus, ms
}

// Scan lists the origin, then the mirrors (at most Parallel at once, each
// within Timeout), and swaps in the new View; the status reports a scan
// once its View is in use. Scans do not overlap: a call while one runs
// waits for it.
func (s *Scanner) Scan(ctx context.Context) {
	s.scanning.Lock()
	defer s.scanning.Unlock()
	if s.share != nil && s.leader != nil && !s.leader(ctx) {
		s.follow(ctx)
		return
	}
	s.scans.Add(1)
	ix, err := s.scanOrigin(ctx)
	now := time.Now()
	s.mu.Lock()
	origin := OriginStatus{LastScan: now}
	if err != nil {
		origin.Err = err.Error()
		ix = s.ix
		if ix != nil {
			origin.Files = ix.Len()
		}
	} else {
		s.ix = ix
		origin.Files = ix.Len()
	}
	s.mu.Unlock()
	if err != nil {
		s.log.Warn("origin scan failed; keeping the last good listing", "origin", s.origin.String(), "err", err.Error())
	}
	if ix == nil {
		s.mu.Lock()
		s.oStatus = origin // no origin listing yet: nothing to judge mirrors against
		s.mu.Unlock()
		return
	}
	holdings := make([]*Holdings, len(s.mirrors))
	statuses := make([]MirrorStatus, len(s.mirrors))
	var wg sync.WaitGroup
	sem := make(chan struct{}, s.parallel)
	for i, m := range s.mirrors {
		if m.Source == nil {
			// nil holdings: every file
			statuses[i] = MirrorStatus{Stats: Stats{Held: ix.Len()}, LastScan: now}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			holdings[i], statuses[i] = s.scanMirror(ctx, ix, m)
		}()
	}
	wg.Wait()
	names := make([]string, len(s.mirrors))
	for i, m := range s.mirrors {
		names[i] = m.Name
	}
	s.view.Store(NewView(ix, names, holdings))
	s.mu.Lock()
	s.oStatus = origin
	for i, m := range s.mirrors {
		s.mStatus[m.Name] = statuses[i]
	}
	s.mu.Unlock()
	s.onChange()
	if s.share != nil {
		s.publish(ctx, snapshotForShare(ix, names, holdings, origin, statuses, time.Now()))
	}
}

// Scans returns how many scans this instance ran, and how many results it
// adopted from the leader.
func (s *Scanner) Scans() (ran, adopted uint64) { return s.scans.Load(), s.adopted.Load() }

// publish hands the results of a scan to the other instances.
func (s *Scanner) publish(ctx context.Context, p *published) {
	data, err := encode(p)
	if err == nil {
		err = s.share.Publish(ctx, s.pool, p.Version, data)
	}
	if err != nil {
		s.log.Warn("file scan results not shared", "err", err.Error())
	}
}

// follow adopts the leader's latest results, when they are newer than the
// ones adopted last and were made for the same mirrors.
func (s *Scanner) follow(ctx context.Context) {
	version, data, err := s.share.Fetch(ctx, s.pool, s.have)
	if err != nil {
		s.log.Warn("file scan results of the leader not read; keeping the last ones", "err", err.Error())
		return
	}
	if data == nil {
		return
	}
	p, err := decode(data)
	var ix *Index
	var holdings []*Holdings
	if err == nil {
		ix, holdings, err = p.adopt()
	}
	if err != nil {
		s.log.Warn("file scan results of the leader cannot be read", "err", err.Error())
		return
	}
	names := make([]string, len(s.mirrors))
	for i, m := range s.mirrors {
		names[i] = m.Name
	}
	v := NewView(ix, p.Mirrors, holdings)
	if !v.Serves(names) {
		s.log.Info("the leader's file scan is for other mirrors (a reload in progress); waiting for the next")
		return
	}
	s.view.Store(v)
	s.mu.Lock()
	s.ix, s.have = ix, version
	s.oStatus = p.OStatus
	for i, name := range p.Mirrors {
		if i < len(p.MStatus) {
			s.mStatus[name] = p.MStatus[i]
		}
		if holdings[i] != nil {
			s.held[name] = holdings[i]
		}
	}
	s.mu.Unlock()
	s.adopted.Add(1)
	s.onChange()
}

// scanMirror lists one mirror and judges it against ix. When the listing
// fails, the last good one is judged again against ix (as far as its files
// are unchanged), so that a failed scan keeps what was known.
func (s *Scanner) scanMirror(ctx context.Context, ix *Index, m ScanMirror) (*Holdings, MirrorStatus) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var bad int
	h, err := Judge(ix, func(fn func(Entry) error) error {
		return m.Source.List(ctx, fn, func(error) { bad++ })
	})
	st := MirrorStatus{Listed: true, LastScan: time.Now()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		st.Err = err.Error()
		if prev := s.held[m.Name]; prev != nil {
			h = prev.Carry(ix)
			s.held[m.Name] = h
		} else {
			// Never listed: it holds nothing we know of.
			h = &Holdings{bits: make([]uint64, (ix.Len()+63)/64), of: ix, Stats: Stats{Missing: ix.Len()}}
		}
		st.Stats = h.Stats
		s.log.Warn("mirror scan failed; keeping the last good listing", "mirror", m.Name, "rsync", m.Source.String(), "err", err.Error())
		return h, st
	}
	if bad > 0 {
		st.Err = fmt.Sprintf("%d listing entries skipped (odd names or paths)", bad)
	}
	st.Stats = h.Stats
	s.held[m.Name] = h
	return h, st
}

// scanOrigin lists the origin into a new Index, with hashes when asked:
// a file whose size and mtime did not change keeps its hash.
func (s *Scanner) scanOrigin(ctx context.Context) (*Index, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var b Builder
	var entries []Entry
	err := s.origin.List(ctx, func(e Entry) error {
		if s.hashes {
			entries = append(entries, e)
			return nil
		}
		b.Add(e, nil)
		return nil
	}, func(err error) { s.log.Warn("origin entry skipped", "err", err.Error()) })
	if err != nil {
		return nil, err
	}
	if !s.hashes {
		return b.Build(), nil
	}
	root, _ := s.origin.(Dir)
	s.mu.Lock()
	old := s.sums
	s.mu.Unlock()
	sums := make(map[string]sumEntry, len(entries))
	for _, e := range entries {
		se, ok := old[e.Path]
		if !ok || se.size != e.Size || se.mtime != e.MTime {
			sum, err := hashFile(ctx, filepath.Join(string(root), filepath.FromSlash(e.Path)))
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				s.log.Warn("origin file not hashed", "path", e.Path, "err", err.Error())
				b.Add(e, nil)
				continue
			}
			se = sumEntry{e.Size, e.MTime, sum}
		}
		sums[e.Path] = se
		b.Add(e, &se.sum)
	}
	s.mu.Lock()
	s.sums = sums
	s.mu.Unlock()
	return b.Build(), nil
}

func hashFile(ctx context.Context, path string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 256<<10)
	for {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return sum, err
		}
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}
