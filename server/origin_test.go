package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/handlers"
	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestOriginPaths runs a file-aware pool whose repository metadata
// (origin_paths) and small files (min_size) go to the origin's own
// server: a real HTTP origin and a real mirror listed by an rsync
// daemon. The metadata and the small file are answered by the origin,
// the large file by the mirror, and /api/explain says so.
func TestOriginPaths(t *testing.T) {
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.Local)
	origin := t.TempDir()
	tree := map[string]string{
		"pub/dists/stable/InRelease": "signed release",
		"pub/small.txt":              "tiny",
		"pub/big.iso":                strings.Repeat("x", 5000),
	}
	itest.WriteTree(t, origin, tree, day)
	originSrv := httptest.NewServer(http.FileServer(http.Dir(origin)))
	t.Cleanup(originSrv.Close)
	mirror := newFileMirror(t, true)
	itest.WriteTree(t, mirror.dir, tree, day)
	cfg := fmt.Sprintf(`{"pools": [{"name": "pub", "routes": ["/pub/*file"],
	  "files": {"origin": %q, "origin_url": %q, "origin_paths": ["**/InRelease"], "min_size": 1024},
	  "mirrors": [{"name": "m", "url": %q, "rsync": %q}]}]}`, origin, originSrv.URL, mirror.url, mirror.rsync)
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, cfg)
	srv := startFile(t, path)
	waitListed(t, srv, "m")
	for file, want := range map[string]string{
		"/pub/dists/stable/InRelease": "origin",
		"/pub/small.txt":              "origin",
		"/pub/big.iso":                "m",
	} {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest("GET", file, nil))
		loc := w.Header().Get("Location")
		if w.Code != http.StatusFound || w.Header().Get("X-Mirror") != want {
			t.Fatalf("GET %s: %d to %q (%s); want %s", file, w.Code, w.Header().Get("X-Mirror"), loc, want)
		}
		wantLoc := mirror.url + file
		if want == "origin" {
			wantLoc = originSrv.URL + file
		}
		if loc != wantLoc {
			t.Errorf("GET %s: Location %s; want %s", file, loc, wantLoc)
		}
		resp, err := http.Get(loc)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != tree[strings.TrimPrefix(file, "/")] {
			t.Errorf("%s: %d, %d bytes", loc, resp.StatusCode, len(body))
		}
	}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest("GET", "/api/explain?path=/pub/small.txt", nil))
	var ex handlers.Explanation
	if err := json.Unmarshal(w.Body.Bytes(), &ex); err != nil {
		t.Fatal(err)
	}
	if ex.File == nil || ex.File.Answer != "origin" || !strings.Contains(ex.Note, "goes to the origin") {
		t.Errorf("explain of a small file: file %+v, note %q", ex.File, ex.Note)
	}
}
