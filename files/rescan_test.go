package files

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestRescanUnchanged rescans an origin and a mirror that did not change:
// the same Index and View stay in use and nothing is swapped in. Then a
// file's mtime changes, a file is added, the last file is removed: each
// is a new Index, with the hashes of the unchanged files kept.
func TestRescanUnchanged(t *testing.T) {
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.Local)
	origin, mirror := t.TempDir(), t.TempDir()
	tree := map[string]string{"pub/a.iso": "aaaa", "pub/b.iso": "bb", "pub/z.iso": "z"}
	itest.WriteTree(t, origin, tree, day)
	itest.WriteTree(t, mirror, tree, day)
	addr := itest.RsyncDaemon(t, map[string]string{"pub": mirror})
	changes := 0
	s := NewScanner(ScannerOptions{Pool: "p", Origin: Dir(origin), Hashes: true,
		Mirrors:  []ScanMirror{{Name: "m", Source: Rsync{URL: "rsync://" + addr + "/pub"}}, {Name: "plain"}},
		OnChange: func() { changes++ }})
	s.Scan(context.Background())
	v := s.View()
	// The origin's View at once (m not listed yet), then m's listing.
	if v == nil || changes != 2 {
		t.Fatalf("first scan: view %v, %d changes", v, changes)
	}
	_, ms := s.Status()
	first := ms["m"].LastScan
	s.Scan(context.Background())
	if s.View() != v || changes != 2 {
		t.Errorf("an unchanged rescan swapped in a new View (%d changes)", changes)
	}
	if o, ms := s.Status(); o.Files != 3 || ms["m"].Held != 3 || !ms["m"].LastScan.After(first) {
		t.Errorf("after an unchanged rescan: origin %+v, m %+v; want the scan reported", o, ms["m"])
	}

	steps := []struct {
		name   string
		change func()
		files  int
	}{
		{"an mtime changes", func() { itest.WriteTree(t, origin, map[string]string{"pub/b.iso": "bb"}, day.Add(time.Hour)) }, 3},
		{"a file is added", func() { itest.WriteTree(t, origin, map[string]string{"pub/c.iso": "c"}, day) }, 4},
		{"the last file is removed", func() {
			if err := os.Remove(filepath.Join(origin, "pub", "z.iso")); err != nil {
				t.Fatal(err)
			}
		}, 3},
	}
	for _, step := range steps {
		before := s.View()
		step.change()
		s.Scan(context.Background())
		after := s.View()
		if after.Index == before.Index || after.Index.Len() != step.files {
			t.Errorf("%s: index %p → %p with %d files; want a new index of %d", step.name, before.Index, after.Index, after.Index.Len(), step.files)
			continue
		}
		id, _ := after.Index.Lookup("pub/a.iso")
		if sum, ok := after.Index.SHA256(id); !ok || sum != sha("aaaa") {
			t.Errorf("%s: a.iso lost its hash", step.name)
		}
	}
	// b.iso is newer on the origin than on the mirror: m no longer holds it.
	if got := holders(t, s.View(), "pub/b.iso"); got != "plain" {
		t.Errorf("b.iso held by %q; want plain only", got)
	}
}

// listing is a Source that lists a fixed tree and records when it was
// listed.
type listing struct {
	name    string
	entries []Entry
	mu      *sync.Mutex
	starts  map[string]time.Time
}

func (l listing) List(ctx context.Context, fn func(Entry) error, bad func(error)) error {
	l.mu.Lock()
	l.starts[l.name] = time.Now()
	l.mu.Unlock()
	for _, e := range l.entries {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func (l listing) String() string { return l.name }

// abTree is an origin holding a.iso and b.iso, and n mirrors listed by
// a recording Source (starts: when each listing began) that hold a.iso
// alone.
func abTree(t *testing.T, n int) (origin string, mirrors []ScanMirror, starts map[string]time.Time) {
	origin = t.TempDir()
	itest.WriteTree(t, origin, map[string]string{"a.iso": "aaaa", "b.iso": "bb"}, abDay)
	starts = map[string]time.Time{}
	mu := &sync.Mutex{}
	mirrors = make([]ScanMirror, n)
	for i := range mirrors {
		name := fmt.Sprintf("m%d", i)
		mirrors[i] = ScanMirror{Name: name, Source: listing{name: name, entries: abEntries()[:1], mu: mu, starts: starts}}
	}
	return origin, mirrors, starts
}

// abDay is the mtime of abTree's files.
var abDay = time.Date(2026, 11, 1, 12, 0, 0, 0, time.Local)

// abEntries are a.iso and b.iso as the origin of abTree has them.
func abEntries() []Entry {
	return []Entry{{Path: "a.iso", Size: 4, MTime: abDay.Unix()}, {Path: "b.iso", Size: 2, MTime: abDay.Unix()}}
}

// listBoth makes every mirror of s (from abTree) list b.iso too.
func listBoth(s *Scanner) {
	for i := range s.mirrors {
		l := s.mirrors[i].Source.(listing)
		l.entries = abEntries()
		s.mirrors[i].Source = l
	}
}

// TestScanSpread scans three mirrors with a Spread: the first scan lists
// them at once (nothing is known of them yet); a rescan starts them no
// sooner than their share of the spread, and swaps in each mirror's new
// holdings as it comes, one View per changed mirror.
func TestScanSpread(t *testing.T) {
	origin, mirrors, starts := abTree(t, 3)
	const spread = 600 * time.Millisecond
	var views []*View
	var s *Scanner
	s = NewScanner(ScannerOptions{Pool: "p", Origin: Dir(origin), Mirrors: mirrors, Spread: spread,
		SwapEvery: time.Nanosecond, // every listing its own View
		OnChange:  func() { views = append(views, s.View()) }})
	begin := time.Now()
	s.Scan(context.Background())
	// The origin's View with no mirror listed yet, then one per listing.
	if len(views) != 4 || holders(t, views[0], "a.iso") != "" || holders(t, views[3], "a.iso") != "m0 m1 m2" || holders(t, views[3], "b.iso") != "" {
		t.Fatalf("first scan: %d views", len(views))
	}
	views = views[3:]
	for name, at := range starts {
		if at.Sub(begin) >= spread/3 {
			t.Errorf("first scan listed %s after %v; never-listed mirrors are listed at once", name, at.Sub(begin))
		}
	}

	// Every mirror now has b.iso too.
	listBoth(s)
	begin = time.Now()
	s.Scan(context.Background())
	for i := range mirrors {
		name := fmt.Sprintf("m%d", i)
		if min := spread * time.Duration(i) / 3; starts[name].Sub(begin) < min {
			t.Errorf("%s listed %v into the rescan; want no sooner than %v", name, starts[name].Sub(begin), min)
		}
	}
	if len(views) != 4 {
		t.Fatalf("the rescan swapped in %d Views; want one per mirror", len(views)-1)
	}
	for i := 1; i < len(views); i++ {
		// One more holder per View, whichever mirror it is.
		if got := len(strings.Fields(holders(t, views[i], "b.iso"))); got != i {
			t.Errorf("View %d: b.iso held by %q; want %d mirrors", i, holders(t, views[i], "b.iso"), i)
		}
	}
}

// TestScanBatches: listings that come together are swapped in together:
// the first listing of 20 mirrors is at most two Views after the
// origin's (the first listing at once, the rest in one rebuild of the
// rows, not 20 copies), and a rescan that finds every mirror changed at
// most two more.
func TestScanBatches(t *testing.T) {
	origin, mirrors, _ := abTree(t, 20)
	var views []*View
	var s *Scanner
	s = NewScanner(ScannerOptions{Pool: "p", Origin: Dir(origin), Mirrors: mirrors, Parallel: 20, SwapEvery: time.Hour,
		OnChange: func() { views = append(views, s.View()) }})
	s.Scan(context.Background())
	if len(views) > 3 || len(strings.Fields(holders(t, views[len(views)-1], "a.iso"))) != 20 {
		t.Fatalf("first scan: %d views; want the origin's, then at most two, the last with all 20 listings", len(views))
	}
	first := len(views)
	listBoth(s)
	s.Scan(context.Background())
	if len(views)-first > 2 || len(strings.Fields(holders(t, views[len(views)-1], "b.iso"))) != 20 {
		t.Fatalf("rescan: %d more views; want at most two, the last with b.iso on all 20", len(views)-first)
	}
	if _, ms := s.Status(); ms["m7"].Held != 2 {
		t.Errorf("status after the batch: %+v", ms["m7"])
	}
}
