package files

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"

	"github.com/dispatcher/dispatcher/internal/gobzip"
)

func buildIndex(n int) *Index {
	var b Builder
	bigTree(n)(func(e Entry) error { b.Add(e, nil); return nil }) //nolint:errcheck // never fails
	return b.Build()
}

// BenchmarkIndexBuild builds the index of a tree of 10, 1,000 and
// 1,000,000 files: what a rescan of the origin costs in CPU.
func BenchmarkIndexBuild(b *testing.B) {
	for _, n := range []int{10, 1000, 1_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buildIndex(n)
			}
		})
	}
}

// BenchmarkLookup looks up paths in an index of a million files.
func BenchmarkLookup(b *testing.B) {
	ix := buildIndex(1_000_000)
	paths := samplePaths(ix)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := ix.Lookup(paths[i&1023]); !ok {
			b.Fatal("not found")
		}
		i++
	}
}

// BenchmarkIndexMemory reports what an index of a million files holds:
// bytes per file of live heap, and of the process's resident memory,
// after a collection.
func BenchmarkIndexMemory(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		heap0, rss0 := memory()
		ix := buildIndex(n)
		heap1, rss1 := memory()
		b.ReportMetric(float64(heap1-heap0)/n, "heap-B/file")
		b.ReportMetric(float64(rss1-rss0)/n, "rss-B/file")
		runtime.KeepAlive(ix)
	}
}

// memory returns the live heap and the resident set size, after a
// collection that returns what it can to the system.
func memory() (heap, rss uint64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	data, _ := os.ReadFile("/proc/self/statm")
	if f := strings.Fields(string(data)); len(f) > 1 {
		pages, _ := strconv.ParseUint(f[1], 10, 64)
		rss = pages * uint64(os.Getpagesize())
	}
	return ms.HeapAlloc, rss
}

// BenchmarkParseRsyncList parses a listing of a million lines, as rsync
// prints it for a tree like bigTree.
func BenchmarkParseRsyncList(b *testing.B) {
	var buf bytes.Buffer
	at := time.Unix(1_700_000_000, 0).UTC()
	bigTree(1_000_000)(func(e Entry) error { //nolint:errcheck // never fails
		fmt.Fprintf(&buf, "-rw-r--r-- %14s %s %s\n", commas(e.Size), at.Format("2006/01/02 15:04:05"), e.Path)
		return nil
	})
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		err := ParseRsyncList(bytes.NewReader(buf.Bytes()), time.UTC, func(Entry) error { n++; return nil }, func(e *ListingError) { b.Fatal(e) })
		if err != nil || n != 1_000_000 {
			b.Fatalf("%d entries, %v", n, err)
		}
	}
}

func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// BenchmarkNewView builds the holders of a million files for 10, 100 and 1,000
// mirrors, half of them listed with a file in 64 missing: what a rescan
// costs besides the listings.
func BenchmarkNewView(b *testing.B) {
	ix := buildIndex(1_000_000)
	for _, mirrors := range []int{10, 100, 1000} {
		b.Run(strconv.Itoa(mirrors), func(b *testing.B) {
			names := make([]string, mirrors)
			hs := make([]*Holdings, mirrors)
			for m := range mirrors {
				names[m] = "m" + strconv.Itoa(m)
				if m%2 == 0 {
					h := All(ix)
					for id := m; id < ix.Len(); id += 64 {
						h.bits[id/64] &^= 1 << (id % 64)
					}
					hs[m] = h
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				NewView(ix, names, hs)
			}
		})
	}
}

// BenchmarkLookupHolders is the request path of a file-aware pool: the
// lookup of a path among a million files and its holders among 100
// mirrors.
func BenchmarkLookupHolders(b *testing.B) {
	ix := buildIndex(1_000_000)
	names := make([]string, 100)
	for m := range names {
		names[m] = "m" + strconv.Itoa(m)
	}
	v := NewView(ix, names, make([]*Holdings, 100))
	paths := samplePaths(ix)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id, ok := v.Index.Lookup(paths[i&1023])
		if !ok {
			b.Fatal("not found")
		}
		if _, all := v.Holders(id); !all {
			b.Fatal("not held by all")
		}
		i++
	}
}

// samplePaths returns 1,024 paths spread over ix.
func samplePaths(ix *Index) []string {
	paths := make([]string, 1024)
	for i := range paths {
		paths[i] = ix.Path(i * 977 % ix.Len())
	}
	return paths
}

// writeTree writes n one-byte files under root, 100 per directory.
func writeTree(b *testing.B, root string, n int) {
	b.Helper()
	for i := range n {
		dir := filepath.Join(root, "pub", fmt.Sprintf("d%04d", i/100))
		if i%100 == 0 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("pkg-%07d.deb", i)), []byte("x"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRescan rescans an origin directory of 100,000 files that did
// not change (the listing is compared with the last Index, nothing is
// built), and one where a file changed (a new Index is built).
func BenchmarkRescan(b *testing.B) {
	root := b.TempDir()
	const n = 100_000
	writeTree(b, root, n)
	for _, changed := range []bool{false, true} {
		b.Run(fmt.Sprintf("changed=%v", changed), func(b *testing.B) {
			s := NewScanner(ScannerOptions{Pool: "p", Origin: Dir(root)})
			prev, err := s.scanOrigin(context.Background(), nil)
			if err != nil || prev.Len() != n {
				b.Fatalf("%d files, %v", prev.Len(), err)
			}
			if changed {
				prev = nil // as if every file changed: the whole Index is built
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.scanOrigin(context.Background(), prev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkChoose is the rule a request of a verify pool applies: the
// holders of a file among 10, 1,000 and 10,000 mirrors, half listed and
// half checked, with passes and failures. It allocates the mask it
// returns.
func BenchmarkChoose(b *testing.B) {
	ix := buildIndex(1000)
	for _, mirrors := range []int{10, 1000, 10000} {
		b.Run(strconv.Itoa(mirrors), func(b *testing.B) {
			names := make([]string, mirrors)
			hs := make([]*Holdings, mirrors)
			words := (mirrors + 63) / 64
			passed, failed := make([]uint64, words), make([]uint64, words)
			for m := range mirrors {
				names[m] = "m" + strconv.Itoa(m)
				if m%2 == 0 {
					hs[m] = All(ix)
				} else if m%3 == 0 {
					passed[m/64] |= 1 << (m % 64)
				} else if m%5 == 0 {
					failed[m/64] |= 1 << (m % 64)
				}
			}
			v := NewView(ix, names, hs)
			b.ReportAllocs()
			for b.Loop() {
				if c := v.Choose(7, true, passed, failed); !c.Confirmed {
					b.Fatal("no holder")
				}
			}
		})
	}
}

// BenchmarkCarry carries the View of a million files over an origin
// change of one file, at 100 and 1,000 mirrors (half listed, each missing
// its own files): what an origin change costs. The file-number map is
// built with each new Index; then the rows move, whatever the number of
// mirrors.
func BenchmarkCarry(b *testing.B) {
	old := buildIndex(1_000_000)
	var bl Builder
	for id := range old.Len() {
		e := old.Entry(id)
		if id == 500_000 {
			e.MTime++
		}
		bl.Add(e, nil)
	}
	ix := bl.Build()
	for _, mirrors := range []int{100, 1000} {
		b.Run(strconv.Itoa(mirrors), func(b *testing.B) {
			v := scaleView(old, mirrors)
			b.ReportAllocs()
			for b.Loop() {
				ix.carry.Store(nil) // a new origin change each time
				v.Carry(ix)
			}
		})
	}
}

// scaleView is the View of ix for n mirrors: half listed, mirror m
// missing every 64th file from m on (so rows differ), the others
// assumed to hold every file.
func scaleView(ix *Index, n int) *View {
	names := make([]string, n)
	hs := make([]*Holdings, n)
	for m := range n {
		names[m] = "m" + strconv.Itoa(m)
		if m%2 == 0 {
			h := All(ix)
			for id := m % 64; id < ix.Len(); id += 64 {
				h.bits[id/64] &^= 1 << (id % 64)
			}
			hs[m] = h
		}
	}
	return NewView(ix, names, hs)
}

// BenchmarkAdopt is what a follower does with a leader's View of a
// million files and 100 or 1,000 mirrors (half listed): unpack what Redis
// holds (gzipped gob) and rebuild the index and the rows.
func BenchmarkAdopt(b *testing.B) {
	ix := buildIndex(1_000_000)
	for _, mirrors := range []int{100, 1000} {
		b.Run(strconv.Itoa(mirrors), func(b *testing.B) {
			data, err := gobzip.Encode(shareView(scaleView(ix, mirrors), time.Now()))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				var p sharedView
				if err := gobzip.Decode(data, &p); err != nil {
					b.Fatal(err)
				}
				if _, err := p.adopt(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "bytes-shared")
		})
	}
}

// BenchmarkMemory reports what a million files cost in memory with their
// View for 1,000 mirrors (half listed, 64 distinct rows), all included:
// the live heap after a collection, and the process's resident memory
// once the garbage is given back, per file. Run it alone: the resident
// memory is the whole process's.
func BenchmarkMemory(b *testing.B) {
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		ix := buildIndex(1_000_000)
		v := scaleView(ix, 1000)
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(ix.Len()), "heap-B/file")
		// What the scavenger gives back in time (the building's garbage),
		// given back now: the resident memory that stays, the test
		// binary's own included.
		debug.FreeOSMemory()
		b.ReportMetric(float64(rss())/float64(ix.Len()), "rss-B/file")
		runtime.KeepAlive(v)
	}
}

// rss returns the resident memory of the process, in bytes (0 where
// /proc is not).
func rss() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// BenchmarkWith swaps one mirror's new listing (a file in 64 now missing)
// into the View of a million files for 100 and 1,000 mirrors: what each
// changed listing costs; and the same listing again (unchanged): a pass
// over the mirror's column.
func BenchmarkWith(b *testing.B) {
	ix := buildIndex(1_000_000)
	for _, mirrors := range []int{100, 1000} {
		v := scaleView(ix, mirrors)
		changed := All(ix)
		for id := 7; id < ix.Len(); id += 64 {
			changed.bits[id/64] &^= 1 << (id % 64)
		}
		changed.Stats.Held = ix.Len() - (ix.Len()+56)/64
		b.Run(strconv.Itoa(mirrors), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v.With(2, changed)
			}
		})
		same := v.With(2, changed)
		b.Run(strconv.Itoa(mirrors)+"/unchanged", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if same.With(2, changed) != same {
					b.Fatal("an unchanged listing made a new View")
				}
			}
		})
	}
}

// BenchmarkHTTPIndexScan lists a mirror of 10,000 files in 100
// directories over HTTP, from real nginx (JSON, HTML) and lighttpd, as a
// rescan does (the page's zone learned, HEADs of the last scan kept), and
// reports what one listing costs the mirror: pages, HEADs and bytes.
// docs/files.md scales the figures to a million files.
func BenchmarkHTTPIndexScan(b *testing.B) {
	root := b.TempDir()
	writeTree(b, root, 10000)
	var bl Builder
	if err := Dir(root).List(context.Background(), func(e Entry) error { bl.Add(e, nil); return nil }, func(error) {}); err != nil {
		b.Fatal(err)
	}
	ix := bl.Build()
	for _, srv := range []struct{ name, url string }{
		{"nginx-json", itest.NginxAutoindex(b, root, "autoindex_format json;")},
		{"nginx-html", itest.NginxAutoindex(b, root, "")},
		{"lighttpd", itest.Lighttpd(b, root)},
	} {
		b.Run(srv.name, func(b *testing.B) {
			x := &HTTPIndex{URL: srv.url, Rate: 100000}
			list := func() {
				h, err := Judge(ix, func(fn func(Entry) error) error {
					return x.ListFor(context.Background(), ix, fn, func(err error) { b.Fatal(err) })
				})
				if err != nil || h.Stats.Held != ix.Len() {
					b.Fatalf("%v, %+v", err, h.Stats)
				}
			}
			list() // the first scan learns the zone and HEADs what it must
			first := x.Stats()
			b.ResetTimer()
			for b.Loop() {
				list()
			}
			st := x.Stats()
			b.ReportMetric(float64(st.Pages), "pages/scan")
			b.ReportMetric(float64(st.Heads), "heads/scan")
			b.ReportMetric(float64(first.Heads), "heads/first-scan")
			b.ReportMetric(float64(st.Bytes), "bytes/scan")
		})
	}
}
