package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestReprDigest: the 302 of a file whose SHA-256 the origin's scan knows
// carries Repr-Digest (RFC 9530) and a describedby link to its Metalink,
// as curl receives them; aria2c, given that digest, downloads the file
// through the dispatcher and checks it, and refuses the copy of a mirror
// whose bytes differ (same size and time, so its listing looks right). A
// file without a known hash gets neither header.
func TestReprDigest(t *testing.T) {
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.Local)
	origin := t.TempDir()
	content := strings.Repeat("mirror me ", 5000)
	// A path long enough that its Metalink link would take the Link
	// header past its 1 KiB.
	long := "pub/" + strings.Repeat(strings.Repeat("d", 200)+"/", 6) + "long.iso"
	itest.WriteTree(t, origin, map[string]string{"pub/a b.iso": content, long: content}, day)
	good, bad, plain := newFileMirror(t, true), newFileMirror(t, true), newFileMirror(t, true)
	itest.WriteTree(t, good.dir, map[string]string{"pub/a b.iso": content, long: content}, day)
	itest.WriteTree(t, bad.dir, map[string]string{"pub/a b.iso": strings.Repeat("X", len(content))}, day)
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, fmt.Sprintf(filesConfig, "random", origin, "any", good.url, good.rsync, bad.url, bad.rsync, plain.url))
	srv := startFile(t, path)
	waitListed(t, srv, "full", "lag")
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	sum := sha256.Sum256([]byte(content))
	want := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"

	curl := itest.Need(t, "curl", "curl")
	out, err := exec.Command(curl, "-sS", "-o", "/dev/null", "-D", "-", "-H", "X-Test: 1", hs.URL+"/pub/a%20b.iso?mirror=full").Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	headers := map[string]string{}
	for _, line := range strings.Split(string(out), "\r\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			headers[strings.ToLower(k)] = v
		}
	}
	if headers["repr-digest"] != want {
		t.Errorf("Repr-Digest %q; want %q\n%s", headers["repr-digest"], want, out)
	}
	if link := headers["link"]; !strings.Contains(link, `</pub/a%20b.iso.meta4>; rel=describedby; type="application/metalink4+xml"`) ||
		!strings.Contains(link, "rel=duplicate") {
		t.Errorf("Link %q: want the mirrors and the Metalink", link)
	}

	// The long path: its digest, and a Link header that stays within 1 KiB
	// (the Metalink link, which would not fit, is left out).
	lw := httptest.NewRecorder()
	srv.ServeHTTP(lw, httptest.NewRequest("GET", "/"+long+"?mirror=full", nil))
	if lw.Header().Get("Repr-Digest") != want || len(lw.Header().Get("Link")) > 1024 {
		t.Errorf("long path: Repr-Digest %q, Link of %d bytes; want the digest and at most 1 KiB",
			lw.Header().Get("Repr-Digest"), len(lw.Header().Get("Link")))
	}

	// aria2c checks the bytes it gets against the digest it was given. By
	// default it asks for a Metalink (Accept), which the dispatcher
	// answers with one; here it asks for the file.
	aria := itest.Need(t, "aria2c", "aria2")
	hexSum := hex.EncodeToString(sum[:])
	for mirror, ok := range map[string]bool{"full": true, "lag": false} {
		dl := t.TempDir()
		out, err := exec.Command(aria, "--dir", dl, "--out", "a.iso", "--checksum=sha-256="+hexSum, "--max-tries=1", "--follow-metalink=false", "--header=Accept: */*",
			"--console-log-level=warn", "--summary-interval=0", hs.URL+"/pub/a%20b.iso?mirror="+mirror).CombinedOutput()
		if ok && err != nil {
			t.Errorf("aria2c from %s: %v\n%s", mirror, err, out)
		}
		if !ok && (err == nil || !strings.Contains(strings.ToLower(string(out)), "checksum")) {
			t.Errorf("aria2c took the copy of %s, whose bytes differ: %v\n%s", mirror, err, out)
		}
		if got, _ := os.ReadFile(filepath.Join(dl, "a.iso")); ok && string(got) != content {
			t.Errorf("aria2c from %s: %d bytes; want the file", mirror, len(got))
		}
	}

	// A file the scan did not hash: no digest, no Metalink link.
	itest.WriteFile(t, path, strings.Replace(fmt.Sprintf(filesConfig, "random", origin, "any", good.url, good.rsync, bad.url, bad.rsync, plain.url),
		`"hashes": true`, `"hashes": false`, 1))
	if err := srv.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	itest.WaitFor(t, 20*time.Second, "a scan without hashes", func() bool {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest("GET", "/pub/a%20b.iso", nil))
		return w.Code == 302 && w.Header().Get("Repr-Digest") == "" && !strings.Contains(w.Header().Get("Link"), "describedby")
	})
}
