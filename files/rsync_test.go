package files

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestRsyncPartialListing lists a mirror whose tree has one path longer
// than rsync's 4,096 bytes: rsync lists the rest and exits 23. The
// entries it listed count (the mirror holds them), the one it could not
// list counts as missing, and the status says why.
func TestRsyncPartialListing(t *testing.T) {
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	origin, mirror := t.TempDir(), t.TempDir()
	tree := map[string]string{"pub/a.iso": "aaaa", "pub/b.iso": "bb"}
	itest.WriteTree(t, origin, tree, day)
	itest.WriteTree(t, mirror, tree, day)
	writeDeep(t, mirror, 22) // 22 × 201 bytes: past rsync's limit
	addr := itest.RsyncDaemon(t, map[string]string{"pub": mirror})

	s := NewScanner(ScannerOptions{Pool: "p", Origin: Dir(origin), Timeout: 30 * time.Second,
		Mirrors: []ScanMirror{{Name: "m", Source: Rsync{URL: "rsync://" + addr + "/pub"}}}})
	s.Scan(context.Background())
	v := s.View()
	if v == nil {
		t.Fatal("no view after a scan")
	}
	for _, p := range []string{"pub/a.iso", "pub/b.iso"} {
		if got := holders(t, v, p); got != "m" {
			t.Errorf("%s held by %q after a listing that ended with exit 23; want m", p, got)
		}
	}
	_, ms := s.Status()
	if st := ms["m"]; st.Held != 2 || !strings.Contains(st.Err, "rsync exit 23") || !strings.Contains(st.Err, "count as missing") {
		t.Errorf("status %+v; want 2 held and an error naming rsync's exit 23", st)
	}
}

// writeDeep makes a chain of levels directories of 200-byte names under
// root, with a file at the bottom, through directory descriptors (the
// whole path is too long for one system call).
func writeDeep(t *testing.T, root string, levels int) {
	t.Helper()
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("d", 200)
	for range levels {
		if err := unix.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	f, err := unix.Openat(fd, "deep.txt", unix.O_WRONLY|unix.O_CREAT, 0o644)
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(f, []byte("x"))
	unix.Close(f)
	t.Cleanup(func() { removeDeep(root, name, levels) })
}

// removeDeep removes what writeDeep made (os.RemoveAll cannot: the path
// is too long).
func removeDeep(root, name string, levels int) {
	fds := []int{}
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return
	}
	for range levels {
		fds = append(fds, fd)
		if fd, err = unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0); err != nil {
			break
		}
	}
	if err == nil {
		unix.Unlinkat(fd, "deep.txt", 0)
		unix.Close(fd)
	}
	for i := len(fds) - 1; i >= 0; i-- {
		unix.Unlinkat(fds[i], name, unix.AT_REMOVEDIR)
		unix.Close(fds[i])
	}
}

// TestRsyncTimeZone lists a mirror under time zones where local time is
// ambiguous or given as a POSIX rule string: a file from the hour repeated
// when clocks go back, and files from summer and winter, are held however
// the dispatcher's zone is set, because rsync runs in UTC.
func TestRsyncTimeZone(t *testing.T) {
	// 2026-11-01 01:30 happens twice in New York: 05:30 and 06:30 UTC.
	times := map[string]time.Time{
		"pub/repeated.iso": time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC),
		"pub/summer.iso":   time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC),
		"pub/winter.iso":   time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC),
	}
	origin, mirror := t.TempDir(), t.TempDir()
	for p, at := range times {
		itest.WriteTree(t, origin, map[string]string{p: p}, at)
		itest.WriteTree(t, mirror, map[string]string{p: p}, at)
	}
	addr := itest.RsyncDaemon(t, map[string]string{"pub": mirror})
	for _, tz := range []string{"America/New_York", "EST+5EDT,M3.2.0/2,M11.1.0/2", "Asia/Kolkata"} {
		t.Run(tz, func(t *testing.T) {
			t.Setenv("TZ", tz) // what the rsync child would inherit
			s := NewScanner(ScannerOptions{Pool: "p", Origin: Dir(origin), Timeout: 30 * time.Second,
				Mirrors: []ScanMirror{{Name: "m", Source: Rsync{URL: "rsync://" + addr + "/pub"}}}})
			s.Scan(context.Background())
			_, ms := s.Status()
			if st := ms["m"]; st.Held != len(times) || st.Err != "" {
				t.Errorf("under TZ=%s: %+v; want all %d held", tz, st, len(times))
			}
		})
	}
}
