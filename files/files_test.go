package files

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

func TestCheckPath(t *testing.T) {
	for _, p := range []string{"a", "pub/a.iso", "sub dir/ü file #1.txt", "a/.hidden", "a/b..c"} {
		if err := CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v; want nil", p, err)
		}
	}
	for _, p := range []string{"", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a/.", "a\x00b", strings.Repeat("a", 5000)} {
		if err := CheckPath(p); !errors.Is(err, ErrBadPath) {
			t.Errorf("CheckPath(%q) = %v; want ErrBadPath", p, err)
		}
	}
}

func TestParseRsyncList(t *testing.T) {
	listing := `drwxr-xr-x          4,096 2026/11/23 01:34:30 .
drwxr-xr-x          4,096 2026/11/23 01:34:30 pub
-rw-r--r--              6 2026/01/02 03:04:05 pub/a.iso
lrwxrwxrwx              5 2026/11/23 01:34:30 pub/link.iso
-rw-r--r--          2,000 2026/11/23 01:34:30 pub/sub dir/ü file #1.txt
-rw-r--r--  1,234,567,890 2026/11/23 01:34:30 pub/esc\#012aped\#303\#274
-rw-r--r--              1 2026/11/23 01:34:30 ../escape
-rw-r--r--              1 2026/13/23 01:34:30 pub/bad-month
-rw-r--r-- garbage
-rw-r--r--        9999999 2026/11/23 01:34:30 pub/no-commas
`
	var got []Entry
	var bad []int
	err := ParseRsyncList(strings.NewReader(listing), time.UTC, func(e Entry) error { got = append(got, e); return nil },
		func(e *ListingError) { bad = append(bad, e.Line) })
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{"pub/a.iso", 6, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Unix()},
		{"pub/sub dir/ü file #1.txt", 2000, time.Date(2026, 11, 23, 1, 34, 30, 0, time.UTC).Unix()},
		{"pub/esc\naped\u00fc", 1234567890, time.Date(2026, 11, 23, 1, 34, 30, 0, time.UTC).Unix()},
		{"pub/no-commas", 9999999, time.Date(2026, 11, 23, 1, 34, 30, 0, time.UTC).Unix()},
	}
	if !slices.Equal(got, want) {
		t.Errorf("entries:\n%v\nwant\n%v", got, want)
	}
	if !slices.Equal(bad, []int{7, 8, 9}) {
		t.Errorf("bad lines %v; want 7 (..), 8 (month 13), 9 (garbage)", bad)
	}
	stop := errors.New("stop")
	if err := ParseRsyncList(strings.NewReader(listing), nil, func(Entry) error { return stop }, nil); err != stop {
		t.Errorf("an error from fn: %v; want it returned", err)
	}
}

// TestRealRsync lists a tree through a real rsync daemon and through
// WalkDir: the same files, with the same sizes and times; the symlink
// (which could lead out of the tree) is in neither.
func TestRealRsync(t *testing.T) {
	rsync := itest.Need(t, "rsync", "rsync")
	root := t.TempDir()
	files := map[string]string{"pub/a.iso": "hello", "pub/sub dir/ü file #1.txt": strings.Repeat("x", 2000), "top.txt": ""}
	for p, data := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Date(2025, 3, 4, 5, 6, 7, 0, time.Local)
	os.Chtimes(filepath.Join(root, "pub/a.iso"), old, old)
	os.Symlink("/etc/passwd", filepath.Join(root, "pub/evil"))
	addr := itest.RsyncDaemon(t, map[string]string{"pub": root})

	var walked []Entry
	if err := WalkDir(root, func(e Entry) error { walked = append(walked, e); return nil }, nil); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(rsync, "--list-only", "-r", "rsync://"+addr+"/pub/").Output()
	if err != nil {
		t.Fatalf("rsync --list-only: %v", err)
	}
	var listed []Entry
	if err := ParseRsyncList(strings.NewReader(string(out)), nil, func(e Entry) error { listed = append(listed, e); return nil }, func(e *ListingError) { t.Error(e) }); err != nil {
		t.Fatal(err)
	}
	sortEntries := func(es []Entry) { slices.SortFunc(es, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) }) }
	sortEntries(walked)
	sortEntries(listed)
	if !slices.Equal(walked, listed) || len(walked) != len(files) {
		t.Errorf("walked %v\nlisted %v", walked, listed)
	}
	for _, e := range walked {
		if e.Path == "pub/a.iso" && e.MTime != old.Unix() {
			t.Errorf("a.iso mtime %d; want %d", e.MTime, old.Unix())
		}
	}
	if err := WalkDir(filepath.Join(root, "missing"), func(Entry) error { return nil }, nil); err == nil {
		t.Errorf("walking a missing origin succeeded")
	}
}

func TestIndex(t *testing.T) {
	var b Builder
	sum := [32]byte{1, 2, 3}
	entries := []Entry{{"a", 1, 10}, {"pub/a.iso", 2, 20}, {"pub/b.iso", 3, 30}, {"pub/deep/c", 4, 40}, {"x/pub/a.iso", 5, 50}}
	for i, e := range entries {
		if i == 1 {
			b.Add(e, &sum)
		} else {
			b.Add(e, nil)
		}
	}
	ix := b.Build()
	if ix.Len() != len(entries) {
		t.Fatalf("Len = %d", ix.Len())
	}
	for i, e := range entries {
		id, ok := ix.Lookup(e.Path)
		if !ok || ix.Path(id) != e.Path || ix.Size(id) != e.Size || ix.MTime(id) != e.MTime {
			t.Errorf("Lookup(%q) = %d %v: %q %d %d", e.Path, id, ok, ix.Path(id), ix.Size(id), ix.MTime(id))
		}
		if s, ok := ix.SHA256(id); ok != (i == 1) || ok && s != sum {
			t.Errorf("SHA256(%q) = %x %v", e.Path, s, ok)
		}
	}
	for _, p := range []string{"", "b", "pub", "pub/", "pub/a.is", "pub/a.isoo", "pub/deep", "a/pub/a.iso", "/a"} {
		if id, ok := ix.Lookup(p); ok {
			t.Errorf("Lookup(%q) found %d (%q)", p, id, ix.Path(id))
		}
	}
	if n := testing.AllocsPerRun(100, func() { ix.Lookup("pub/deep/c") }); n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}
	var empty Builder
	if _, ok := empty.Build().Lookup("a"); ok {
		t.Errorf("an empty index found a file")
	}
}

// bigTree returns n entries shaped like a distribution's tree: 1,000
// directories two levels deep, base names of 20-odd bytes.
func bigTree(n int) func(func(Entry) error) error {
	return func(fn func(Entry) error) error {
		for i := range n {
			e := Entry{Path: fmt.Sprintf("pool/main/d%03d/pkg-%07d_1.2-3_amd64.deb", i%1000, i), Size: int64(1000 + i), MTime: 1_700_000_000 + int64(i)}
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestJudgeAndView: a mirror holds a file with the origin's size and an
// mtime no older; a different size or an older mtime is outdated; the
// view's rows say who holds what.
func TestJudgeAndView(t *testing.T) {
	var b Builder
	for _, e := range []Entry{{"a", 10, 100}, {"b", 20, 200}, {"c", 30, 300}, {"d", 40, 400}} {
		b.Add(e, nil)
	}
	ix := b.Build()
	mirror := []Entry{
		{"a", 10, 100}, // held
		{"b", 20, 150}, // older: outdated
		{"c", 31, 900}, // other size: outdated
		{"x", 1, 1},    // not in the origin: ignored
		// d missing
	}
	h, err := Judge(ix, func(fn func(Entry) error) error {
		for _, e := range mirror {
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if h.Stats != (Stats{Held: 1, Missing: 1, Outdated: 2}) {
		t.Errorf("stats %+v; want held 1, missing 1, outdated 2", h.Stats)
	}
	newer, _ := Judge(ix, func(fn func(Entry) error) error { return fn(Entry{"d", 40, 401}) })
	v := NewView(ix, []string{"m0", "m1", "m2"}, []*Holdings{h, nil, newer})
	for _, tt := range []struct {
		path string
		want uint64
		all  bool
	}{{"a", 0b011, false}, {"b", 0b010, false}, {"c", 0b010, false}, {"d", 0b110, false}} {
		id, _ := ix.Lookup(tt.path)
		mask, all := v.Holders(id)
		if mask[0] != tt.want || all != tt.all {
			t.Errorf("%s: holders %03b all %v; want %03b %v", tt.path, mask[0], all, tt.want, tt.all)
		}
	}
	everyone := NewView(ix, []string{"m0", "m1"}, []*Holdings{All(ix), nil})
	if _, all := everyone.Holders(2); !all {
		t.Errorf("a file every mirror holds is not marked so")
	}
	if !v.Serves([]string{"m0", "m1", "m2"}) || v.Serves([]string{"m1", "m0", "m2"}) || v.Serves([]string{"m0"}) {
		t.Errorf("Serves does not match the mirror order")
	}
}

// TestNewViewTransposes: the rows NewView builds a block at a time say
// what every mirror's holdings say, for a pool of 130 mirrors (three
// words) over 1,000 files (a partial last block), some without a listing.
func TestNewViewTransposes(t *testing.T) {
	ix := numberedIndex(1000, "pub/f%04d")
	r := rand.New(rand.NewPCG(1, 2))
	names := make([]string, 130)
	hs := make([]*Holdings, 130)
	for m := range names {
		names[m] = fmt.Sprint("m", m)
		if m%7 == 3 {
			continue // no listing: every file
		}
		h := none(ix)
		for id := range ix.Len() {
			if r.IntN(3) > 0 {
				h.bits[id/64] |= 1 << (id % 64)
			}
		}
		hs[m] = h
	}
	v := NewView(ix, names, hs)
	for id := range ix.Len() {
		row, _ := v.Holders(id)
		for m, h := range hs {
			want := h == nil || h.Has(id)
			if got := row[m/64]>>(m%64)&1 == 1; got != want {
				t.Fatalf("file %d, mirror %d: row says %v, holdings %v", id, m, got, want)
			}
		}
	}
	// With gives the rows NewView would build with the new holdings.
	changed := none(ix)
	for id := range ix.Len() {
		if id%5 != 0 {
			changed.bits[id/64] |= 1 << (id % 64)
		}
	}
	for _, m := range []int{0, 3, 129} {
		hs2 := append([]*Holdings(nil), hs...)
		hs2[m] = changed
		with, built := v.With(m, changed), NewView(ix, names, hs2)
		for id := range ix.Len() {
			got, gotAll := with.Holders(id)
			want, wantAll := built.Holders(id)
			if !slices.Equal(got, want) || gotAll != wantAll {
				t.Fatalf("With(%d): file %d holders %x (all %v); NewView says %x (all %v)", m, id, got, gotAll, want, wantAll)
			}
		}
	}
	var a [64]uint64
	for i := range a {
		a[i] = r.Uint64()
	}
	orig := a
	transpose64(&a)
	for i := range 64 {
		for j := range 64 {
			if a[i]>>j&1 != orig[j]>>i&1 {
				t.Fatalf("transpose64: bit %d of row %d", j, i)
			}
		}
	}
}
