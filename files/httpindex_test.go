package files

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// httpIndexTrees writes an origin and a mirror of it that lacks a file,
// truncated one, holds one older copy of the same size a day back and one
// an hour back, and one newer copy; the rest are copies with the origin's
// times (as rsync -t keeps them). It returns the origin's index and what
// the mirror must be judged to hold.
func httpIndexTrees(t *testing.T) (ix *Index, mirror string, want map[string]bool) {
	origin, mirror := t.TempDir(), t.TempDir()
	t0 := time.Date(2026, 11, 20, 8, 30, 17, 0, time.UTC)
	files := map[string]string{}
	for i := range 12 {
		files[fmt.Sprintf("pub/%d/file-%d.iso", i%3, i)] = strings.Repeat(fmt.Sprint(i%10), 12000+1000*i) // nginx rounds sizes from 10,000 bytes: "12K"
	}
	files["pub/lack.iso"], files["pub/trunc.iso"] = "lacking", strings.Repeat("t", 50000)
	files["pub/day-old.iso"], files["pub/hour-old.iso"], files["pub/newer.iso"] = "day", "hour", "newer"
	files["pub/a b&c.iso"] = "odd name"
	itest.WriteTree(t, origin, files, t0)
	want = map[string]bool{}
	for p, data := range files {
		switch p {
		case "pub/lack.iso":
			want[p] = false
			continue
		case "pub/trunc.iso":
			itest.WriteTree(t, mirror, map[string]string{p: data[:30000]}, t0)
			want[p] = false
		case "pub/day-old.iso":
			itest.WriteTree(t, mirror, map[string]string{p: data}, t0.Add(-30*time.Hour))
			want[p] = false
		case "pub/hour-old.iso":
			itest.WriteTree(t, mirror, map[string]string{p: data}, t0.Add(-time.Hour))
			want[p] = false
		case "pub/newer.iso":
			itest.WriteTree(t, mirror, map[string]string{p: data}, t0.Add(48*time.Hour))
			want[p] = true
		default:
			itest.WriteTree(t, mirror, map[string]string{p: data}, t0)
			want[p] = true
		}
	}
	var b Builder
	if err := Dir(origin).List(context.Background(), func(e Entry) error { b.Add(e, nil); return nil }, func(err error) { t.Error(err) }); err != nil {
		t.Fatal(err)
	}
	return b.Build(), mirror, want
}

// countingProxy forwards to base and counts the requests by method, and
// the most at once.
func countingProxy(t *testing.T, base string) (url string, gets, heads, most *atomic.Int32) {
	gets, heads, most = new(atomic.Int32), new(atomic.Int32), new(atomic.Int32)
	var inFlight atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if r.Method == http.MethodHead {
			heads.Add(1)
		} else {
			gets.Add(1)
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, base+r.URL.RequestURI(), nil)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			w.Write(buf[:n]) //nolint:errcheck // a test proxy
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, gets, heads, most
}

// TestHTTPIndexScan lists one mirror tree through real nginx (its HTML
// index with exact and with rounded sizes, its JSON and XML) and real
// lighttpd, and judges it as an rsync listing is judged: the same files
// held, missing and outdated in every form. JSON and XML need no HEAD;
// the HTML forms ask HEADs where the page leaves the judgement unsure
// (rounded sizes; times until the page's zone is learned), and a second
// scan of an unchanged tree asks none. Requests go one at a time.
func TestHTTPIndexScan(t *testing.T) {
	ix, mirror, want := httpIndexTrees(t)
	dirs := 1 + 1 + 3 // the root, pub/, pub/0..2/
	for _, tt := range []struct {
		name, base string
		maxHeads   int // in the first scan
	}{
		{"nginx json", itest.NginxAutoindex(t, mirror, "autoindex_format json;"), 0},
		{"nginx xml", itest.NginxAutoindex(t, mirror, "autoindex_format xml;"), 0},
		{"nginx html", itest.NginxAutoindex(t, mirror, ""), len(want)},
		{"nginx html rounded", itest.NginxAutoindex(t, mirror, "autoindex_exact_size off;"), len(want)},
		{"lighttpd", itest.Lighttpd(t, mirror), len(want)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url, gets, heads, most := countingProxy(t, tt.base)
			x := &HTTPIndex{URL: url, Rate: 1000}
			for scan := range 2 {
				gets.Store(0)
				heads.Store(0)
				var bad []string
				h, err := Judge(ix, func(fn func(Entry) error) error {
					return x.ListFor(context.Background(), ix, fn, func(err error) { bad = append(bad, err.Error()) })
				})
				if err != nil {
					t.Fatal(err)
				}
				for p, held := range want {
					id, _ := ix.Lookup(p)
					if h.Has(id) != held {
						t.Errorf("scan %d: %s held %v; want %v", scan, p, h.Has(id), held)
					}
				}
				if len(bad) > 0 {
					t.Errorf("scan %d: reported %q", scan, bad)
				}
				if int(gets.Load()) != dirs {
					t.Errorf("scan %d: %d pages fetched; want %d, one per directory", scan, gets.Load(), dirs)
				}
				if most.Load() != 1 {
					t.Errorf("scan %d: %d requests at once; want one at a time", scan, most.Load())
				}
				st := x.Stats()
				if scan == 0 && int(heads.Load()) > tt.maxHeads {
					t.Errorf("%d HEADs; want at most %d", heads.Load(), tt.maxHeads)
				}
				if scan == 1 && heads.Load() != 0 {
					t.Errorf("the second scan of an unchanged tree asked %d HEADs (%d reused)", heads.Load(), st.HeadsReused)
				}
				t.Logf("scan %d: %d pages, %d bytes, %d HEADs, %d reused; held %d, missing %d, outdated %d",
					scan, st.Pages, st.Bytes, st.Heads, st.HeadsReused, h.Stats.Held, h.Stats.Missing, h.Stats.Outdated)
			}
		})
	}
}

// TestHTTPIndexAcrossReload: a scanner built by a reload, seeded with the
// one it replaces, takes over what the mirror's HTTP index learned: the
// next listing of an unchanged tree asks no HEAD (lighttpd rounds every
// size, so without it each file would be asked again).
func TestHTTPIndexAcrossReload(t *testing.T) {
	day := time.Date(2026, 11, 20, 8, 30, 17, 0, time.UTC)
	origin, mirror := t.TempDir(), t.TempDir()
	tree := map[string]string{}
	for i := range 8 {
		tree[fmt.Sprintf("pub/file-%d.iso", i)] = strings.Repeat("x", 2000+i)
	}
	itest.WriteTree(t, origin, tree, day)
	itest.WriteTree(t, mirror, tree, day)
	base := itest.Lighttpd(t, mirror)
	scanner := func(seed *Scanner) (*Scanner, *HTTPIndex) {
		x := &HTTPIndex{URL: base, Rate: 1000}
		return NewScanner(ScannerOptions{Pool: "p", Origin: Dir(origin), Timeout: 30 * time.Second, Seed: seed,
			Mirrors: []ScanMirror{{Name: "m", Source: x}}}), x
	}
	ctx := context.Background()
	s1, x1 := scanner(nil)
	s1.Scan(ctx)
	if st := x1.Stats(); st.Heads != len(tree) {
		t.Fatalf("first scan: %d HEADs; want one per file (%d)", st.Heads, len(tree))
	}
	s2, x2 := scanner(s1)
	s2.Scan(ctx)
	if st := x2.Stats(); st.Heads != 0 || st.HeadsReused != len(tree) {
		t.Errorf("after the reload: %d HEADs, %d reused; want 0 and %d", st.Heads, st.HeadsReused, len(tree))
	}
	if _, ms := s2.Status(); ms["m"].Held != len(tree) {
		t.Errorf("after the reload: %+v", ms["m"])
	}
}
