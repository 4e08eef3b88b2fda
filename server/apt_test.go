package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// aptConfig is a file-aware pool with verify whose fallback is the
// origin's own HTTP server (with the request path): origin directory,
// fallback URL, then the three mirrors' URLs.
const aptConfig = `{"pools": [{"name": "debian", "routes": ["/debian/*file"], "strategy": "random",
  "fallback": "%s",
  "files": {"origin": "%s", "schedule": "@every 1s", "verify": true},
  "mirrors": [{"name": "current", "url": "%s"}, {"name": "behind", "url": "%s"}, {"name": "half", "url": "%s"}]}]}`

// aptProblem matches the lines apt prints for a failed fetch, a warning
// or an error.
var aptProblem = regexp.MustCompile(`(?m)^(Err:|W:|E:).*$`)

// TestAptThroughVerify runs Debian's apt-get, with its own state and cache,
// against a signed repository (dpkg-deb, apt-ftparchive, gpg) served
// through a file-aware pool with verify and the origin's server as
// fallback, over eight releases. Each release the origin publishes, one
// mirror syncs it, one stays a release behind (InRelease keeps its size
// from 2.0 to 9.0), and one is caught half-way through its sync (the new
// InRelease and .deb, the old Packages, as a plain rsync leaves them:
// "InRelease" sorts before "main/"). apt fetches the indexes from the
// mirror that gave it InRelease (Acquire::SameMirrorForAllIndexes), so
// that mirror must not get InRelease either. Every apt-get update and
// apt-get download must be clean and fetch the release's package, the
// mirror behind must serve nothing, the half-synced one nothing under
// dists/, and the synced mirror must carry traffic; apt's own debug
// output (Debug::Acquire::http) must show InRelease and every index
// fetched once after the redirect, none twice.
func TestAptThroughVerify(t *testing.T) {
	repo := itest.NewAptRepo(t)
	originDir := t.TempDir()
	originRepo := filepath.Join(originDir, "debian")
	originSrv := httptest.NewServer(http.FileServer(http.Dir(originDir)))
	t.Cleanup(originSrv.Close)
	current, behind, half := newFileMirror(t, false), newFileMirror(t, false), newFileMirror(t, false)
	mirrorRepo := func(m *fileMirror) string { return filepath.Join(m.dir, "debian") }

	base := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Second)
	prev := repo.Release("1.0", base)
	for _, dst := range []string{originRepo, mirrorRepo(current), mirrorRepo(behind), mirrorRepo(half)} {
		itest.SyncTree(t, prev, dst, nil)
	}
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, fmt.Sprintf(aptConfig, originSrv.URL, originDir, current.url, behind.url, half.url))
	srv := startFile(t, path)
	front := httptest.NewServer(srv)
	t.Cleanup(front.Close)
	apt := itest.NewAptClient(t, fmt.Sprintf("deb [signed-by=%s] %s/debian stable main", repo.Key(), front.URL))

	const index = "dists/stable/main/binary-amd64/"
	fromMirrors := 0
	for n := 2; n <= 9; n++ {
		version := fmt.Sprintf("%d.0", n)
		at := base.Add(time.Duration(n) * time.Hour)
		next := repo.Release(version, at)
		deb := fmt.Sprintf("pool/main/%s/%s/%s_%s_all.deb", itest.AptPackage[:1], itest.AptPackage, itest.AptPackage, version)
		itest.SyncTree(t, next, originRepo, nil)
		itest.SyncTree(t, next, mirrorRepo(current), nil)
		itest.SyncTree(t, prev, mirrorRepo(behind), nil)
		// Half-way: the pool and the new InRelease, the old indexes.
		itest.SyncTree(t, prev, mirrorRepo(half), nil)
		for _, rel := range []string{"dists/stable/InRelease", "dists/stable/Release", deb} {
			if err := itest.CopyFile(filepath.Join(next, rel), filepath.Join(mirrorRepo(half), rel)); err != nil {
				t.Fatal(err)
			}
		}
		waitScanned(t, srv, "/debian/dists/stable/InRelease", at)
		for _, m := range []*fileMirror{current, behind, half} {
			m.served()
		}
		// Other clients asked for these files before: verify has checked
		// them, and requests go to mirrors, not only the origin.
		for _, rel := range []string{"dists/stable/InRelease", index + "Packages.gz", deb} {
			itest.WaitFor(t, 20*time.Second, rel+" of release "+version+" to be sent to a mirror", func() bool {
				m, code := redirect(srv, "/debian/"+rel)
				if code != http.StatusFound {
					t.Fatalf("GET /debian/%s = %d", rel, code)
				}
				return m != "fallback"
			})
		}

		out, err := apt.Run("-o", "Debug::Acquire::http=1", "update")
		if err != nil || aptProblem.MatchString(out) || !strings.Contains(out, "InRelease") {
			t.Fatalf("release %s: apt-get update: %v\n%s", version, err, out)
		}
		// apt's own account: no index fetched twice from the mirrors.
		gets := mirrorGETs(out, strings.TrimPrefix(front.URL, "http://"))
		if gets["/debian/dists/stable/InRelease"] != 1 {
			t.Fatalf("release %s: apt's debug output shows %d fetches of InRelease after the redirect; want 1\n%s", version, gets["/debian/dists/stable/InRelease"], out)
		}
		for path, n := range gets {
			if strings.Contains(path, "/dists/") && n > 1 {
				t.Errorf("release %s: apt fetched %s from the mirrors %d times\n%s", version, path, n, out)
			}
		}
		out, err = apt.Run("download", itest.AptPackage)
		if err != nil || aptProblem.MatchString(out) {
			t.Fatalf("release %s: apt-get download: %v\n%s", version, err, out)
		}
		got, err := os.ReadFile(filepath.Join(apt.DownloadDir(), filepath.Base(deb)))
		if err != nil {
			t.Fatalf("release %s: apt-get download left no %s: %v\n%s", version, filepath.Base(deb), err, out)
		}
		if want, _ := os.ReadFile(filepath.Join(next, deb)); !bytes.Equal(got, want) {
			t.Fatalf("release %s: the downloaded package differs from the origin's", version)
		}

		if s := behind.served(); len(s) > 0 {
			t.Errorf("release %s: the mirror a release behind served %v", version, s)
		}
		// apt takes the indexes from the mirror that gave it InRelease:
		// the half-synced one must get neither.
		for _, p := range half.served() {
			if strings.Contains(p, "/dists/") {
				t.Errorf("release %s: the half-synced mirror served %s", version, p)
			}
		}
		fromMirrors += len(current.served())
		prev = next
	}
	if fromMirrors == 0 {
		t.Error("the synced mirror served nothing: every request went to the origin")
	}
}

// mirrorGETs counts, per path, the GET requests apt's Debug::Acquire::http
// output shows it sent to a host other than front (the dispatcher): the
// fetches from mirrors and the origin after a redirect.
func mirrorGETs(debug, front string) map[string]int {
	n := map[string]int{}
	var path string
	for _, line := range strings.Split(debug, "\n") {
		line = strings.TrimSpace(line)
		if p, ok := strings.CutPrefix(line, "GET "); ok {
			path, _, _ = strings.Cut(p, " ")
			continue
		}
		if host, ok := strings.CutPrefix(line, "Host: "); ok && path != "" {
			if host != front {
				n[path]++
			}
			path = ""
		}
	}
	return n
}
