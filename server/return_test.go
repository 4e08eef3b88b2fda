package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestReturningMirrorRelisted: a listed mirror that comes back from being
// down (its health probe fails, then passes) or from a drain is not
// trusted with files on its old listing: it may have been reinstalled
// empty while away. No client is sent to it for a file until a new
// listing, made at once, shows it holds the file; once it holds them
// again (and comes back again), it gets them. The schedule is an hour:
// only a return lists it again.
func TestReturningMirrorRelisted(t *testing.T) {
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.Local)
	origin := t.TempDir()
	tree := map[string]string{"pub/a.iso": "aaaa", "pub/b.iso": "bbbbbbbb"}
	itest.WriteTree(t, origin, tree, day)
	full, back := newFileMirror(t, true), newFileMirror(t, true)
	itest.WriteTree(t, full.dir, tree, day)
	itest.WriteTree(t, back.dir, tree, day)
	itest.WriteTree(t, back.dir, map[string]string{"health": "ok"}, day)
	itest.WriteTree(t, full.dir, map[string]string{"health": "ok"}, day)
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, fmt.Sprintf(`{
  "health": {"schedule": "@every 1s", "path": "/health", "timeout": "1s", "window": 1, "threshold": 1, "ramp_up": "0s"},
  "pools": [{"name": "pub", "routes": ["/pub/*file"], "strategy": "random",
  "files": {"origin": %q, "schedule": "@every 1h", "unknown": "404"},
  "mirrors": [{"name": "full", "url": %q, "rsync": %q}, {"name": "back", "url": %q, "rsync": %q}]}]}`,
		origin, full.url, full.rsync, back.url, back.rsync))
	srv := startFile(t, path)
	waitListed(t, srv, "full", "back")
	sends := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			m, code := redirect(srv, "/pub/a.iso")
			if code != 302 {
				t.Fatalf("GET /pub/a.iso = %d", code)
			}
			got[m]++
		}
		return got
	}
	if got := sends(200); got["back"] == 0 {
		t.Fatalf("a.iso, held by both, went to %v", got)
	}

	// back goes down, is reinstalled empty, and comes back up.
	removeAll(t, filepath.Join(back.dir, "health"))
	itest.WaitFor(t, 10*time.Second, "back to be down", func() bool { return !mirrorStatus(t, srv, "pub", "back").Up })
	removeAll(t, filepath.Join(back.dir, "pub"))
	itest.WriteTree(t, back.dir, map[string]string{"health": "ok"}, day)
	itest.WaitFor(t, 10*time.Second, "back to be up", func() bool { return mirrorStatus(t, srv, "pub", "back").Up })
	// From the snapshot that lets it serve, until and after its new
	// listing: never a.iso.
	itest.WaitFor(t, 20*time.Second, "back's new listing (it holds nothing)", func() bool {
		if got := sends(50); got["back"] > 0 {
			t.Fatalf("back, up again but emptied, got a.iso %d times before a new listing", got["back"])
		}
		st := mirrorStatus(t, srv, "pub", "back").Files
		return st.Listed && st.Missing == 2 && st.ScanError == ""
	})
	if got := sends(200); got["back"] > 0 {
		t.Fatalf("back, listed empty, got a.iso %d times", got["back"])
	}

	// It syncs again; a drain and an enable list it again at once.
	itest.WriteTree(t, back.dir, tree, day)
	for _, enabled := range []bool{false, true} {
		if err := srv.SetEnabled(context.Background(), "pub", "back", enabled); err != nil {
			t.Fatal(err)
		}
	}
	itest.WaitFor(t, 20*time.Second, "back's listing after its enable", func() bool {
		st := mirrorStatus(t, srv, "pub", "back").Files
		return st.Held == 2
	})
	if got := sends(200); got["back"] == 0 {
		t.Errorf("back, synced and listed again, got no a.iso: %v", got)
	}
}

func removeAll(t *testing.T, p string) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
}
