package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/handlers"
	"github.com/dispatcher/dispatcher/internal/itest"
	"github.com/dispatcher/dispatcher/server"
)

// fileMirror is an HTTP mirror serving a directory (GET and HEAD with
// Content-Length and Last-Modified) and, when listed, an rsync daemon on
// the same directory. It records the paths of the GETs it answered 200.
type fileMirror struct {
	dir, url, rsync string

	mu   sync.Mutex
	gets []string
}

func newFileMirror(t *testing.T, listed bool) *fileMirror {
	m := &fileMirror{dir: t.TempDir()}
	files := http.FileServer(http.Dir(m.dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		files.ServeHTTP(rec, r)
		if r.Method == http.MethodGet && rec.code == http.StatusOK {
			m.mu.Lock()
			m.gets = append(m.gets, r.URL.Path)
			m.mu.Unlock()
		}
	}))
	t.Cleanup(srv.Close)
	m.url = srv.URL
	if listed {
		m.rsync = "rsync://" + itest.RsyncDaemon(t, map[string]string{"root": m.dir}) + "/root"
	}
	return m
}

// served returns the paths of the GETs answered since the last call.
func (m *fileMirror) served() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.gets
	m.gets = nil
	return g
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

const filesConfig = `{"pools": [{"name": "pub", "routes": ["/pub/*file"], "strategy": "%s",
  "fallback": "https://fallback.example",
  "files": {"origin": "%s", "schedule": "@every 1s", "unknown": "%s", "hashes": true, "timeout": "20s"},
  "mirrors": [
    {"name": "full", "url": "%s", "rsync": "%s", "country": "DE"},
    {"name": "lag", "url": "%s", "rsync": "%s", "country": "DE"},
    {"name": "plain", "url": "%s", "country": "US"}]}]}`

// filesOf is the files status of an instance's first pool.
func filesOf(srv *server.Server) *handlers.PoolFiles { return srv.Status().Pools[0].Files }

// startInstance writes cfg to a file of its own and starts an instance on
// it: one of several sharing a Redis.
func startInstance(t *testing.T, cfg string) *server.Server {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, cfg)
	return startFile(t, path)
}

// waitListed waits until every named mirror of pool pub was listed once.
func waitListed(t *testing.T, srv *server.Server, mirrors ...string) {
	t.Helper()
	itest.WaitFor(t, 20*time.Second, "the first listing of "+strings.Join(mirrors, ", "), func() bool {
		for _, m := range mirrors {
			if st := mirrorStatus(t, srv, "pub", m).Files; st == nil || st.LastScan == nil {
				return false
			}
		}
		return true
	})
}

// threeMirrors writes the origin of the file-aware tests and three real
// mirrors of it: full (listed by rsync) holds a.iso and b.iso, lag
// (listed) holds a.iso and a truncated b.iso, plain (not listed) holds
// everything; new.iso is on the origin and plain alone.
func threeMirrors(t *testing.T) (origin string, full, lag, plain *fileMirror) {
	t.Helper()
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.Local)
	origin = t.TempDir()
	tree := map[string]string{"pub/a.iso": "aaaa", "pub/b.iso": "bbbbbbbb", "pub/new.iso": "fresh"}
	itest.WriteTree(t, origin, tree, day)
	full, lag, plain = newFileMirror(t, true), newFileMirror(t, true), newFileMirror(t, false)
	itest.WriteTree(t, full.dir, map[string]string{"pub/a.iso": "aaaa", "pub/b.iso": "bbbbbbbb"}, day)
	itest.WriteTree(t, lag.dir, map[string]string{"pub/a.iso": "aaaa", "pub/b.iso": "bbb"}, day) // b truncated
	itest.WriteTree(t, plain.dir, tree, day)
	return origin, full, lag, plain
}

// TestFileAwareness runs a file-aware pool on an origin directory and
// three real mirrors (two listed by rsync daemons, one not): requests go
// only to mirrors that hold the file as the origin has it, a file nobody
// holds goes to the fallback, a lagging mirror gets a file once it catches
// up, and the status says who holds what.
func TestFileAwareness(t *testing.T) {
	origin, full, lag, plain := threeMirrors(t)
	for _, strategy := range []string{"random", "roundrobin", "iphash", "geo"} {
		t.Run(strategy, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mirrors.json")
			itest.WriteFile(t, path, fmt.Sprintf(filesConfig, strategy, origin, "404",
				full.url, full.rsync, lag.url, lag.rsync, plain.url))
			srv := startFile(t, path)
			waitListed(t, srv, "full", "lag") // each listing is swapped in as it comes
			seen := map[string]map[string]int{}
			for _, file := range []string{"/pub/a.iso", "/pub/b.iso", "/pub/new.iso"} {
				seen[file] = map[string]int{}
				for i := range 200 {
					req := httptest.NewRequest("GET", file+"?country=DE", nil)
					req.RemoteAddr = fmt.Sprintf("198.51.100.%d:1", i%250+1)
					w := httptest.NewRecorder()
					srv.ServeHTTP(w, req)
					if w.Code != 302 {
						t.Fatalf("GET %s = %d", file, w.Code)
					}
					seen[file][w.Header().Get("X-Mirror")]++
					if m := w.Header().Get("X-Mirror"); m != "plain" && strings.Contains(w.Header().Get("Link"), "lag") && file == "/pub/b.iso" {
						t.Fatalf("Link names a mirror without the file: %s", w.Header().Get("Link"))
					}
				}
			}
			if seen["/pub/b.iso"]["lag"] > 0 {
				t.Errorf("b.iso (truncated on lag) sent to lag %d times: %v", seen["/pub/b.iso"]["lag"], seen["/pub/b.iso"])
			}
			if n := seen["/pub/new.iso"]; n["full"]+n["lag"] > 0 || n["plain"] != 200 {
				t.Errorf("new.iso (only plain has it, as far as anyone knows) went to %v", n)
			}
			if strategy == "random" || strategy == "roundrobin" {
				if n := seen["/pub/a.iso"]; n["full"] == 0 || n["lag"] == 0 || n["plain"] == 0 {
					t.Errorf("a.iso, held by every mirror, went to %v", n)
				}
			}
			if _, code := redirect(srv, "/pub/missing.iso"); code != 404 {
				t.Errorf("a path the origin lacks, with unknown=404: %d", code)
			}
			st := mirrorStatus(t, srv, "pub", "lag").Files
			if st.Held != 1 || st.Outdated != 1 || st.Missing != 1 || !st.Listed {
				t.Errorf("lag's files %+v; want held 1, outdated 1, missing 1", st)
			}
			ms := itest.Scrape(t, srv)
			for _, want := range []struct {
				name   string
				labels []string
				value  float64
			}{
				{"dispatcher_files_origin_files", []string{"pool", "pub"}, 3},
				{"dispatcher_files_held", []string{"pool", "pub", "mirror", "lag"}, 1},
				{"dispatcher_files_outdated", []string{"pool", "pub", "mirror", "lag"}, 1},
				{"dispatcher_files_missing", []string{"pool", "pub", "mirror", "full"}, 1},
			} {
				if v, ok := ms.Get(want.name, want.labels...); !ok || v != want.value {
					t.Errorf("%s%v = %v (found %v); want %v", want.name, want.labels, v, ok, want.value)
				}
			}
			if v, ok := ms.Get("dispatcher_files_scans_total", "pool", "pub"); !ok || v < 1 {
				t.Errorf("dispatcher_files_scans_total = %v (found %v); want at least 1", v, ok)
			}
			// /api/explain tells why lag gets no b.iso.
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, httptest.NewRequest("GET", "/api/explain?path=/pub/b.iso", nil))
			var ex handlers.Explanation
			if err := json.Unmarshal(w.Body.Bytes(), &ex); err != nil || ex.File == nil || !ex.File.Known || ex.File.Holders != 2 {
				t.Fatalf("explain b.iso: %d %v %s", w.Code, err, w.Body)
			}
			for _, m := range ex.Mirrors {
				if held := m.Name != "lag"; m.Factors.HoldsFile == nil || *m.Factors.HoldsFile != held || (m.Share > 0) != held && strategy != "iphash" && strategy != "geo" {
					t.Errorf("explain b.iso, %s: holds %v, share %v, %q", m.Name, m.Factors.HoldsFile, m.Share, m.Reason)
				}
				if m.Name == "lag" && (m.Share != 0 || !strings.Contains(m.Reason, "lacks the file")) {
					t.Errorf("explain b.iso, lag: share %v, %q", m.Share, m.Reason)
				}
			}
		})
	}
}

// TestFileOutputs: ?mirrorlist lists holders with the file's size and
// hash, <file>.sha256 answers sha256sum's format, <file>.meta4 is a
// Metalink of the holders, and aria2c downloads the file through it and
// checks its hash; a mirror that catches up gets the file; a file no
// mirror holds goes to the fallback.
func TestFileOutputs(t *testing.T) {
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.Local)
	origin := t.TempDir()
	content := strings.Repeat("0123456789", 1000)
	tree := map[string]string{"pub/a.iso": content, "pub/only-origin.iso": "x"}
	itest.WriteTree(t, origin, tree, day)
	full, lag, plain := newFileMirror(t, true), newFileMirror(t, true), newFileMirror(t, true)
	itest.WriteTree(t, full.dir, map[string]string{"pub/a.iso": content}, day)
	itest.WriteTree(t, plain.dir, map[string]string{"pub/a.iso": content}, day)
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, fmt.Sprintf(filesConfig, "random", origin, "fallback",
		full.url, full.rsync, lag.url, lag.rsync, plain.url))
	// plain is listed too here: rewrite its entry with its rsync URL.
	cfg, _ := os.ReadFile(path)
	itest.WriteFile(t, path, strings.Replace(string(cfg), `"url": "`+plain.url+`"`, `"url": "`+plain.url+`", "rsync": "`+plain.rsync+`"`, 1))
	srv := startFile(t, path)
	waitListed(t, srv, "full", "lag", "plain")
	sum := sha256.Sum256([]byte(content))
	hexSum := hex.EncodeToString(sum[:])

	req := httptest.NewRequest("GET", "/pub/a.iso?mirrorlist", nil)
	req.Header.Set("Accept", "application/json")
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	var list struct {
		File struct {
			Path   string
			Size   int64
			SHA256 string
		}
		Mirrors []struct{ Name string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
		t.Fatalf("mirrorlist: %v\n%s", err, w.Body.String())
	}
	if list.File.Size != int64(len(content)) || list.File.SHA256 != hexSum || len(list.Mirrors) != 2 {
		t.Errorf("mirrorlist %s; want the two holders and the file's size and sha256", w.Body.String())
	}

	w = httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest("GET", "/pub/a.iso.sha256", nil))
	if want := hexSum + "  a.iso\n"; w.Code != 200 || w.Body.String() != want {
		t.Errorf(".sha256 = %d %q; want %q", w.Code, w.Body.String(), want)
	}

	w = httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest("GET", "/pub/a.iso.meta4", nil))
	var ml struct {
		File struct {
			Name string `xml:"name,attr"`
			Size int64  `xml:"size"`
			Hash struct {
				Type  string `xml:"type,attr"`
				Value string `xml:",chardata"`
			} `xml:"hash"`
			URLs []struct {
				Priority int    `xml:"priority,attr"`
				URL      string `xml:",chardata"`
			} `xml:"url"`
		} `xml:"file"`
	}
	if err := xml.Unmarshal(w.Body.Bytes(), &ml); err != nil || w.Header().Get("Content-Type") != "application/metalink4+xml" {
		t.Fatalf("meta4: %v %q\n%s", err, w.Header().Get("Content-Type"), w.Body.String())
	}
	if ml.File.Name != "a.iso" || ml.File.Size != int64(len(content)) || ml.File.Hash.Value != hexSum || len(ml.File.URLs) != 2 {
		t.Errorf("meta4:\n%s", w.Body.String())
	}
	for _, u := range ml.File.URLs {
		if strings.HasPrefix(u.URL, lag.url) {
			t.Errorf("the metalink names lag, which lacks the file")
		}
	}

	// aria2c downloads through the Metalink and checks the hash.
	aria := itest.Need(t, "aria2c", "aria2")
	dl := t.TempDir()
	meta := filepath.Join(dl, "a.iso.meta4")
	if err := os.WriteFile(meta, w.Body.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(aria, "--dir", dl, "--check-integrity=true", "--allow-overwrite=true", "--console-log-level=warn", "--summary-interval=0", "-M", meta).CombinedOutput()
	if err != nil {
		t.Fatalf("aria2c: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(dl, "a.iso")); string(got) != content {
		t.Errorf("aria2c downloaded %d bytes; want the file", len(got))
	}

	// Nobody holds only-origin.iso: the fallback. Then lag catches up.
	if m, code := redirect(srv, "/pub/only-origin.iso"); code != 302 || m != "fallback" {
		t.Errorf("a file no mirror holds: %d %q; want the fallback", code, m)
	}
	itest.WriteTree(t, lag.dir, tree, day)
	itest.WaitFor(t, 20*time.Second, "lag to catch up", func() bool {
		m, code := redirect(srv, "/pub/only-origin.iso")
		return code == 302 && m == "lag"
	})
	if m, code := redirect(srv, "/pub/nothere.iso"); code != 302 || m != "fallback" {
		t.Errorf("a path the origin lacks with unknown=fallback: %d %q", code, m)
	}
}

// requestsUntilOnly sends requests for path until 20 in a row go to
// mirror, and returns how many went before those 20.
func requestsUntilOnly(t *testing.T, srv http.Handler, path, mirror string) int {
	t.Helper()
	sent := 0
	itest.WaitFor(t, 20*time.Second, "20 requests in a row to "+mirror, func() bool {
		for range 20 {
			m, code := redirect(srv, path)
			if code != 302 {
				t.Fatalf("GET %s = %d", path, code)
			}
			sent++
			if m != mirror {
				return false
			}
		}
		return true
	})
	return sent - 20
}

// TestFileVerify: with verify, a mirror without rsync that lacks a
// requested file (404) or holds another size stops getting it once its
// check fails, a few requests after the first.
func TestFileVerify(t *testing.T) {
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.Local)
	origin := t.TempDir()
	itest.WriteTree(t, origin, map[string]string{"pub/a.iso": "aaaa"}, day)
	good, empty, short := newFileMirror(t, false), newFileMirror(t, false), newFileMirror(t, false)
	itest.WriteTree(t, good.dir, map[string]string{"pub/a.iso": "aaaa"}, day)
	itest.WriteTree(t, short.dir, map[string]string{"pub/a.iso": "aa"}, day)
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, fmt.Sprintf(`{"pools": [{"name": "pub", "routes": ["/pub/*file"], "strategy": "roundrobin",
	  "files": {"origin": "%s", "verify": true},
	  "mirrors": [{"name": "good", "url": "%s"}, {"name": "empty", "url": "%s"}, {"name": "short", "url": "%s"}]}]}`,
		origin, good.url, empty.url, short.url))
	srv := startFile(t, path)
	itest.WaitFor(t, 20*time.Second, "the first scan", func() bool {
		st := mirrorStatus(t, srv, "pub", "empty")
		return st.Files != nil && st.Files.LastScan != nil
	})
	t.Logf("the bad mirrors were taken out after %d requests", requestsUntilOnly(t, srv, "/pub/a.iso", "good"))
}

// TestFileVerifyShared runs two instances with verify on one
// redis-server: the files requested of the follower are checked by the
// lease holder alone, and the follower stops sending clients to the
// mirrors it takes out.
func TestFileVerifyShared(t *testing.T) {
	r := itest.Redis(t, 0)
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.Local)
	origin := t.TempDir()
	itest.WriteTree(t, origin, map[string]string{"pub/a.iso": "aaaa"}, day)
	good, empty := newFileMirror(t, false), newFileMirror(t, false)
	itest.WriteTree(t, good.dir, map[string]string{"pub/a.iso": "aaaa"}, day)
	cfg := fmt.Sprintf(`{"redis": "redis://%s/0", "pools": [{"name": "pub", "routes": ["/pub/*file"], "strategy": "roundrobin",
	  "files": {"origin": "%s", "verify": true},
	  "mirrors": [{"name": "good", "url": "%s"}, {"name": "empty", "url": "%s"}]}]}`, r.Addr, origin, good.url, empty.url)
	a := startInstance(t, cfg)
	itest.WaitFor(t, 20*time.Second, "a to scan", func() bool { return filesOf(a).ScansHere > 0 })
	b := startInstance(t, cfg)
	itest.WaitFor(t, 20*time.Second, "b to adopt a's results", func() bool { return filesOf(b).Adopted > 0 })
	t.Logf("the follower stopped sending a.iso to empty after %d requests", requestsUntilOnly(t, b, "/pub/a.iso", "good"))
	if n := filesOf(b).ChecksHere; n != 0 {
		t.Errorf("the follower made %d checks; the lease holder checks for all", n)
	}
	if n := filesOf(a).ChecksHere; n == 0 {
		t.Errorf("the lease holder made no check")
	}
	for range 20 { // the leader took empty out too, without a request of its own
		if m, _ := redirect(a, "/pub/a.iso"); m != "good" {
			t.Fatalf("the leader sent a.iso to %s", m)
		}
	}
}

// TestFilesShared runs two instances on one redis-server: the lease holder
// scans and publishes, the other adopts its results without listing
// anything, and sends requests only to holders all the same.
func TestFilesShared(t *testing.T) {
	r := itest.Redis(t, 0)
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.Local)
	origin := t.TempDir()
	itest.WriteTree(t, origin, map[string]string{"pub/a.iso": "aaaa", "pub/b.iso": "bb"}, day)
	full, lag := newFileMirror(t, true), newFileMirror(t, true)
	itest.WriteTree(t, full.dir, map[string]string{"pub/a.iso": "aaaa", "pub/b.iso": "bb"}, day)
	itest.WriteTree(t, lag.dir, map[string]string{"pub/a.iso": "aaaa"}, day)
	cfg := fmt.Sprintf(`{"redis": "redis://%s/0", "pools": [{"name": "pub", "routes": ["/pub/*file"],
	  "files": {"origin": "%s", "schedule": "@every 1s"},
	  "mirrors": [{"name": "full", "url": "%s", "rsync": "%s"}, {"name": "lag", "url": "%s", "rsync": "%s"}]}]}`,
		r.Addr, origin, full.url, full.rsync, lag.url, lag.rsync)
	a := startInstance(t, cfg)
	itest.WaitFor(t, 20*time.Second, "a to scan", func() bool { return filesOf(a).ScansHere > 0 && filesOf(a).LastScan != nil })
	b := startInstance(t, cfg)
	itest.WaitFor(t, 20*time.Second, "b to adopt a's results", func() bool { return filesOf(b).Adopted > 0 })
	if n := filesOf(b).ScansHere; n != 0 {
		t.Errorf("the follower scanned %d times", n)
	}
	if st := mirrorStatus(t, b, "pub", "lag").Files; st == nil || st.Held != 1 || st.Missing != 1 {
		t.Errorf("the follower's view of lag: %+v; want held 1, missing 1", st)
	}
	for range 50 {
		if m, code := redirect(b, "/pub/b.iso"); code != 302 || m != "full" {
			t.Fatalf("the follower sent b.iso to %q (%d); only full holds it", m, code)
		}
	}

	// Scans that change nothing share their status, not the View again.
	adopted, seen := filesOf(b).Adopted, *mirrorStatus(t, b, "pub", "lag").Files.LastScan
	itest.WaitFor(t, 20*time.Second, "the follower to see a later scan of lag", func() bool {
		return mirrorStatus(t, b, "pub", "lag").Files.LastScan.After(seen)
	})
	if n := filesOf(b).Adopted; n != adopted {
		t.Errorf("the follower adopted %d Views after %d, though nothing changed", n, adopted)
	}
	// A change is shared: lag catches up.
	itest.WriteTree(t, lag.dir, map[string]string{"pub/b.iso": "bb"}, day)
	itest.WaitFor(t, 20*time.Second, "the follower to see lag catch up", func() bool {
		st := mirrorStatus(t, b, "pub", "lag").Files
		return st.Held == 2 && filesOf(b).Adopted > adopted
	})
	sent := map[string]int{}
	for range 50 {
		m, _ := redirect(b, "/pub/b.iso")
		sent[m]++
	}
	if sent["lag"] == 0 || sent["full"] == 0 {
		t.Errorf("b.iso went to %v; both mirrors hold it now", sent)
	}
}

// TestHolderSetsPrepared: the pools of a file's holders are built in the
// background, for the snapshot served and the View in use, before any
// request: after the first listings, and again after a rebuild of the
// snapshot (a drained mirror), whose new pools start with none.
func TestHolderSetsPrepared(t *testing.T) {
	origin, full, lag, plain := threeMirrors(t)
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, fmt.Sprintf(filesConfig, "random", origin, "404",
		full.url, full.rsync, lag.url, lag.rsync, plain.url))
	srv := startFile(t, path)
	// Once both listings are in (before, the sets of the Views on the way
	// are prepared too): a.iso is held by all three (no pool needed),
	// b.iso by full and plain, new.iso by plain alone (assumed to hold
	// every file): two sets.
	waitListed(t, srv, "full", "lag")
	sets := func() float64 {
		v, _ := itest.Scrape(t, srv).Get("dispatcher_pool_holder_sets", "pool", "pub")
		return v
	}
	// The snapshot keeps the sets of the Views before the listings too.
	itest.WaitFor(t, 20*time.Second, "the sets of holders prepared", func() bool { return sets() >= 2 })
	if err := srv.SetEnabled(context.Background(), "pub", "plain", false); err != nil {
		t.Fatal(err)
	}
	var last string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last seen: %s", last)
		}
	})
	// The new snapshot's pools start with none, and its View is settled:
	// exactly its two sets.
	itest.WaitFor(t, 20*time.Second, "the sets prepared again for the new snapshot", func() bool {
		// This order: the new snapshot first, then its sets.
		usable := srv.Status().Pools[0].Usable
		n := sets()
		last = fmt.Sprintf("%d usable mirrors, %v sets", usable, n)
		return usable == 2 && n == 2
	})
}
