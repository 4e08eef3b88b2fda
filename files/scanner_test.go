package files

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

func holders(t *testing.T, v *View, path string) string {
	t.Helper()
	id, ok := v.Index.Lookup(path)
	if !ok {
		t.Fatalf("the origin has no %s", path)
	}
	mask, _ := v.Holders(id)
	var names []string
	for m, name := range v.Mirrors {
		if mask[m/64]>>(m%64)&1 == 1 {
			names = append(names, name)
		}
	}
	return strings.Join(names, " ")
}

// TestScanner scans an origin directory and three mirrors, two behind
// real rsync daemons: a complete one, one that lacks a file, holds a
// truncated copy and an older one, and a third without rsync. Then the
// lagging mirror catches up, the origin gains a file, and a mirror's
// daemon dies: its last good listing is kept.
func TestScanner(t *testing.T) {
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.Local)
	origin, full, lag := t.TempDir(), t.TempDir(), t.TempDir()
	files := map[string]string{"pub/a.iso": "aaaa", "pub/b.iso": "bbbbbbbb", "pub/sub dir/c.txt": "c", "pub/d.iso": "dddd"}
	itest.WriteTree(t, origin, files, day)
	itest.WriteTree(t, full, files, day)
	itest.WriteTree(t, lag, map[string]string{"pub/a.iso": "aaaa", "pub/b.iso": "bbb"}, day) // c missing, b truncated
	itest.WriteTree(t, lag, map[string]string{"pub/d.iso": "dddd"}, day.Add(-time.Hour))     // d older
	addrFull := itest.RsyncDaemon(t, map[string]string{"pub": full})
	daemonLag := t.TempDir()
	addrLag := itest.RsyncDaemon(t, map[string]string{"pub": lag, "spare": daemonLag})
	changes := 0
	s := NewScanner(ScannerOptions{Pool: "p", Origin: Dir(origin), Hashes: true, Timeout: 30 * time.Second,
		Mirrors: []ScanMirror{
			{Name: "full", Source: Rsync{URL: "rsync://" + addrFull + "/pub"}},
			{Name: "lag", Source: Rsync{URL: "rsync://" + addrLag + "/pub/"}},
			{Name: "plain"},
		}, OnChange: func() { changes++ }})
	s.Scan(context.Background())
	v := s.View()
	if v == nil || changes != 3 { // the origin's, then full's and lag's listings
		t.Fatalf("no view after a scan (%d changes)", changes)
	}
	for path, want := range map[string]string{"pub/a.iso": "full lag plain", "pub/b.iso": "full plain", "pub/sub dir/c.txt": "full plain", "pub/d.iso": "full plain"} {
		if got := holders(t, v, path); got != want {
			t.Errorf("%s held by %q; want %q", path, got, want)
		}
	}
	o, ms := s.Status()
	if o.Files != 4 || o.Err != "" || ms["lag"].Stats != (Stats{Held: 1, Missing: 1, Outdated: 2}) || ms["full"].Held != 4 || ms["plain"].Listed {
		t.Errorf("status: origin %+v, mirrors %+v", o, ms)
	}
	id, _ := v.Index.Lookup("pub/a.iso")
	if sum, ok := v.Index.SHA256(id); !ok || sum != [32]byte(sha("aaaa")) {
		t.Errorf("sha256 of a.iso = %x %v", sum, ok)
	}

	// The lagging mirror catches up; the origin gains a file.
	itest.WriteTree(t, lag, files, day)
	itest.WriteTree(t, origin, map[string]string{"pub/e.iso": "new"}, day.Add(time.Minute))
	s.Scan(context.Background())
	v = s.View()
	if got := holders(t, v, "pub/b.iso"); got != "full lag plain" {
		t.Errorf("after catching up, b.iso held by %q", got)
	}
	if got := holders(t, v, "pub/e.iso"); got != "plain" {
		t.Errorf("a new origin file held by %q; want only the mirror without rsync", got)
	}

	// The lag mirror's module disappears: its scan fails and its last good
	// listing stands, carried over to the new origin.
	s.mirrors[1].Source = Rsync{URL: "rsync://" + addrLag + "/nosuchmodule"}
	itest.WriteTree(t, origin, map[string]string{"pub/f.iso": "f"}, day)
	s.Scan(context.Background())
	_, ms = s.Status()
	if e := ms["lag"].Err; !strings.Contains(e, "nosuchmodule") || !strings.Contains(e, "rsync") {
		t.Errorf("failed scan error %q; want it to name the module and rsync's complaint", e)
	}
	if got := holders(t, s.View(), "pub/b.iso"); got != "full lag plain" {
		t.Errorf("after a failed scan b.iso held by %q; want the last good listing kept", got)
	}

	// An origin that cannot be read keeps the last good index.
	s.origin = Dir(filepath.Join(origin, "gone"))
	s.Scan(context.Background())
	o, _ = s.Status()
	if o.Err == "" || o.Files != 6 || s.View().Index.Len() != 6 {
		t.Errorf("after a failed origin scan: %+v, %d files in the view", o, s.View().Index.Len())
	}
}

func sha(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// TestScannerRsyncOrigin scans an origin that is an rsync module: the
// index is its listing, and a mirror listed the same way holds it all.
func TestScannerRsyncOrigin(t *testing.T) {
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.Local)
	origin, mirror := t.TempDir(), t.TempDir()
	files := map[string]string{"pub/a.iso": "aaaa", "pub/x y/ü.txt": "b"}
	itest.WriteTree(t, origin, files, day)
	itest.WriteTree(t, mirror, files, day)
	addr := itest.RsyncDaemon(t, map[string]string{"origin": origin, "mirror": mirror})
	s := NewScanner(ScannerOptions{Pool: "p", Origin: Rsync{URL: "rsync://" + addr + "/origin/pub"},
		Mirrors: []ScanMirror{{Name: "m", Source: Rsync{URL: "rsync://" + addr + "/mirror/pub"}}}})
	s.Scan(context.Background())
	v := s.View()
	if v == nil || v.Index.Len() != 2 {
		t.Fatalf("view %v", v)
	}
	for _, p := range []string{"a.iso", "x y/ü.txt"} {
		if got := holders(t, v, p); got != "m" {
			t.Errorf("%s held by %q; want m", p, got)
		}
	}
	if _, ms := s.Status(); ms["m"].Held != 2 || ms["m"].Err != "" {
		t.Errorf("mirror status %+v", ms["m"])
	}
}
