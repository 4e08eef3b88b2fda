package files

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dispatcher/dispatcher/internal/wait"
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
	spread   time.Duration
	// swapEvery is the least time between two swaps of listings.
	swapEvery time.Duration
	log       *slog.Logger
	onChange  func()

	view atomic.Pointer[View]

	// leader and share split the work between instances (nil: this
	// instance scans for itself).
	leader func(context.Context) bool
	share  Sharer
	have   string        // version of the View adopted or published last
	shared *View         // the View published last
	scans  atomic.Uint64 // scans run here
	// following is set while another instance scans: Run then also
	// looks for its results every followEvery, not only on the schedule.
	following atomic.Bool
	adopted   atomic.Uint64 // results adopted from the leader

	mu      sync.Mutex           // guards the state below; held briefly
	ix      *Index               // the last good origin index
	held    map[string]*Holdings // by mirror name, summaries (no bits)
	sums    map[string]sumEntry  // by path: SHA-256 of a size and mtime
	oStatus OriginStatus
	mStatus map[string]MirrorStatus
	// distrusted counts, by mirror name, the times Distrust forgot its
	// files: a listing begun before the last of them is not taken.
	distrusted map[string]uint64
	scanning   sync.Mutex // one scan at a time
	// viewMu makes a new View from the current one and swaps it in, one
	// change at a time (listings landing, Distrust).
	viewMu sync.Mutex
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
	// Spread spreads the starts of the mirror listings of a scan over this
	// long (0: all at once; Run sets half the schedule's period).
	Spread time.Duration
	// SwapEvery is the least time between two Views swapped in for
	// mirror listings (default 500 ms): listings that come sooner are
	// swapped in together, at most this late.
	SwapEvery time.Duration
	Log       *slog.Logger
	// OnChange is called after a new View is swapped in.
	OnChange func()
	// Leader reports whether this instance scans now (the feedback
	// lease); the others adopt what it publishes through Share. Both nil:
	// every instance scans for itself.
	Leader func(context.Context) bool
	Share  Sharer
	// Seed is the Scanner this one replaces (a reload): when the origin is
	// the same, its index and the last listings of the mirrors whose
	// listing source did not change (matched by source, not by name) carry
	// over, and View is in use at once; mirrors new or with a new source
	// are listed first, a last resort until then.
	Seed *Scanner
}

// NewScanner returns a Scanner; View is nil until the first Scan, unless
// a Seed gives one.
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
	if o.SwapEvery <= 0 {
		o.SwapEvery = 500 * time.Millisecond
	}
	if o.OnChange == nil {
		o.OnChange = func() {}
	}
	s := &Scanner{pool: o.Pool, origin: o.Origin, mirrors: o.Mirrors, hashes: o.Hashes, timeout: o.Timeout,
		parallel: o.Parallel, spread: o.Spread, swapEvery: o.SwapEvery, log: o.Log.With("component", "files", "pool", o.Pool), onChange: o.OnChange,
		leader: o.Leader, share: o.Share,
		held: map[string]*Holdings{}, sums: map[string]sumEntry{}, mStatus: map[string]MirrorStatus{}, distrusted: map[string]uint64{}}
	if o.Seed != nil {
		s.seed(o.Seed)
	}
	return s
}

// seed carries over what old knows that still holds here, and makes the
// View of it.
func (s *Scanner) seed(old *Scanner) {
	carryHTTPIndexes(old.mirrors, s.mirrors)
	old.mu.Lock()
	defer old.mu.Unlock()
	if old.ix == nil || sourceKey(old.origin) != sourceKey(s.origin) || old.hashes != s.hashes {
		return
	}
	s.ix, s.oStatus = old.ix, old.oStatus
	for k, e := range old.sums {
		s.sums[k] = e
	}
	ov := old.view.Load()
	if ov == nil || ov.Index != s.ix {
		return
	}
	bySource := map[string]int{} // listing source → old mirror's column
	for i, m := range old.mirrors {
		if m.Source != nil && i < len(ov.Mirrors) && ov.Mirrors[i] == m.Name {
			bySource[sourceKey(m.Source)] = i
		}
	}
	names := make([]string, len(s.mirrors))
	from := make([]int, len(s.mirrors))
	held := make([]*Holdings, len(s.mirrors))
	for i, m := range s.mirrors {
		names[i], from[i] = m.Name, -1
		if m.Source == nil {
			s.mStatus[m.Name] = MirrorStatus{Stats: Stats{Held: s.ix.Len()}, LastScan: s.oStatus.LastScan}
			continue
		}
		held[i] = unlisted(s.ix).summary()
		if f, ok := bySource[sourceKey(m.Source)]; ok && ov.held[f] != nil && ov.held[f].Listed() {
			from[i] = f
			s.held[m.Name] = ov.held[f]
			s.mStatus[m.Name] = old.mStatus[old.mirrors[f].Name]
		}
	}
	s.view.Store(ov.Remap(names, from, held))
}

// sourceKey identifies a listing source: its kind and what it lists.
func sourceKey(src Source) string {
	switch src := src.(type) {
	case Rsync:
		return "rsync " + src.URL
	case Dir:
		return "dir " + string(src)
	case *HTTPIndex:
		return "http " + src.URL
	case nil:
		return ""
	}
	return fmt.Sprintf("%T %s", src, src)
}

// View returns the current View (nil before the first good origin scan).
func (s *Scanner) View() *View { return s.view.Load() }

// Check returns what a check of path needs, from the current View (ok
// false: no View yet, or the origin has no such file).
func (s *Scanner) Check(path string) (Check, bool) {
	v := s.view.Load()
	if v == nil {
		return Check{}, false
	}
	id, ok := v.Index.Lookup(path)
	if !ok {
		return Check{}, false
	}
	return v.Check(id, path), true
}

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
// within Timeout), and swaps in a new View as results come in: at once for
// a new origin listing (the mirrors' last listings judged against it,
// mirrors never listed marked so: a last resort, never preferred over a
// known holder), then one mirror at a time as its listing comes in,
// those never listed first and at once, the others with their starts
// spread evenly over Spread. The status reports a scan once its View is in
// use; an unchanged origin or mirror listing swaps nothing in. Scans do not
// overlap: a call while one runs waits for it.
func (s *Scanner) Scan(ctx context.Context) {
	s.scanning.Lock()
	defer s.scanning.Unlock()
	if s.share != nil && s.leader != nil && !s.leader(ctx) {
		s.following.Store(true)
		s.follow(ctx)
		return
	}
	s.following.Store(false)
	s.scans.Add(1)
	s.mu.Lock()
	prev := s.ix
	s.mu.Unlock()
	ix, err := s.scanOrigin(ctx, prev)
	origin := OriginStatus{LastScan: time.Now()}
	if err != nil {
		origin.Err = err.Error()
		s.log.Warn("origin scan failed; keeping the last good listing", "origin", s.origin.String(), "err", err.Error())
		ix = prev
	}
	if ix == nil {
		s.mu.Lock()
		s.oStatus = origin // no origin listing yet: nothing to judge mirrors against
		s.mu.Unlock()
		return
	}
	origin.Files = ix.Len()

	// The mirrors as last known, judged against ix (the View carried
	// over to a new origin listing: a pass over the files, whatever the
	// number of mirrors); those never listed are listed before the View
	// is first swapped in.
	names := make([]string, len(s.mirrors))
	for i, m := range s.mirrors {
		names[i] = m.Name
	}
	s.viewMu.Lock()
	v := s.view.Load()
	if v == nil || !v.Serves(names) {
		holdings := make([]*Holdings, len(s.mirrors))
		for i, m := range s.mirrors {
			if m.Source != nil {
				holdings[i] = unlisted(ix) // a last resort until listed
			}
		}
		v = NewView(ix, names, holdings)
	} else {
		v = v.Carry(ix)
	}
	statuses := make([]MirrorStatus, len(s.mirrors))
	var first, later []int
	s.mu.Lock()
	for i, m := range s.mirrors {
		switch h := v.held[i]; {
		case m.Source == nil: // nil holdings: every file
			statuses[i] = MirrorStatus{Stats: Stats{Held: ix.Len()}, LastScan: origin.LastScan}
		case h == nil || !h.Listed():
			if h == nil {
				h = unlisted(ix)
			}
			statuses[i] = MirrorStatus{Listed: true, Stats: h.Stats}
			first = append(first, i)
		default:
			s.held[m.Name] = h
			statuses[i] = s.mStatus[m.Name]
			statuses[i].Stats = h.Stats
			later = append(later, i)
		}
	}
	s.mu.Unlock()
	s.swap(v, func() {
		s.ix, s.oStatus = ix, origin
		for i, m := range s.mirrors {
			s.mStatus[m.Name] = statuses[i]
		}
	})
	s.viewMu.Unlock()
	batch := &swapBatcher{s: s, every: s.swapEvery}
	s.scanMirrors(ctx, ix, first, 0, batch.add)
	batch.flush() // the first listings all in, before the others start
	s.scanMirrors(ctx, ix, later, s.spread, batch.add)
	batch.flush()
	if s.share != nil {
		s.publish(ctx)
	}
}

// swap makes v the View in use, then records what it reflects with
// record, under s.mu; OnChange is called when v is new.
func (s *Scanner) swap(v *View, record func()) {
	s.mu.Lock()
	changed := s.view.Swap(v) != v
	record()
	s.mu.Unlock()
	if changed {
		s.onChange()
	}
}

// scanMirrors lists the mirrors of s.mirrors numbered in which, at most
// Parallel at once, their starts spread evenly over spread, and hands
// each result to done, one at a time.
func (s *Scanner) scanMirrors(ctx context.Context, ix *Index, which []int, spread time.Duration, done func(int, *Holdings, MirrorStatus)) {
	var wg sync.WaitGroup
	var doneMu sync.Mutex
	sem := make(chan struct{}, s.parallel)
	for k, i := range which {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !wait.Sleep(ctx, spread*time.Duration(k)/time.Duration(len(which))) || !wait.Acquire(ctx, sem) {
				return
			}
			h, st := s.scanMirror(ctx, ix, s.mirrors[i])
			<-sem
			doneMu.Lock()
			defer doneMu.Unlock()
			done(i, h, st)
		}()
	}
	wg.Wait()
}

// Scans returns how many scans this instance ran, and how many results it
// adopted from the leader.
func (s *Scanner) Scans() (ran, adopted uint64) { return s.scans.Load(), s.adopted.Load() }

// scanMirror lists one mirror and judges it against ix. When the listing
// fails, the last good one is judged again against ix (as far as its files
// are unchanged), so that a failed scan keeps what was known.
func (s *Scanner) scanMirror(ctx context.Context, ix *Index, m ScanMirror) (*Holdings, MirrorStatus) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	s.mu.Lock()
	gen := s.distrusted[m.Name]
	s.mu.Unlock()
	var bad int
	var partial error
	h, err := Judge(ix, func(fn func(Entry) error) error {
		report := func(err error) {
			if errors.Is(err, ErrPartialListing) {
				partial = err
			} else {
				bad++
			}
		}
		if os, ok := m.Source.(OriginSource); ok {
			return os.ListFor(ctx, ix, fn, report)
		}
		return m.Source.List(ctx, fn, report)
	})
	st := MirrorStatus{Listed: true, LastScan: time.Now()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && s.distrusted[m.Name] != gen {
		err = errors.New("came back from down or a drain during its listing: listed again at the next scan")
	}
	if err != nil {
		st.Err = err.Error()
		if prev := s.held[m.Name]; prev != nil && prev.of == ix {
			h = prev // a summary: the View keeps the mirror's column
		} else {
			h = unlisted(ix) // never listed: nothing is known of it
		}
		st.Stats = h.Stats
		s.log.Warn("mirror scan failed; keeping the last good listing", "mirror", m.Name, "source", m.Source.String(), "err", err.Error())
		return h, st
	}
	var notes []string
	if partial != nil {
		notes = append(notes, partial.Error())
		s.log.Warn("mirror listing incomplete; the files it lacks count as missing", "mirror", m.Name, "source", m.Source.String(), "err", partial.Error())
	}
	if bad > 0 {
		notes = append(notes, fmt.Sprintf("%d listing entries skipped (odd names or paths)", bad))
	}
	st.Err = strings.Join(notes, "; ")
	// The View compares h with the mirror's column, and keeps its bits;
	// the Scanner keeps what it says of them.
	st.Stats = h.Stats
	s.held[m.Name] = h.summary()
	return h, st
}
