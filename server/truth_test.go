package server_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
	"github.com/dispatcher/dispatcher/server"
)

// twoListedConfig is a file-aware pool of two mirrors listed by rsync:
// strategy, origin, unknown, then each mirror's url and rsync.
const twoListedConfig = `{"pools": [{"name": "pub", "routes": ["/pub/*file"], "strategy": "%s",
  "fallback": "https://fallback.example",
  "files": {"origin": "%s", "schedule": "@every 1s", "unknown": "%s", "timeout": "20s"},
  "mirrors": [
    {"name": "full", "url": "%s", "rsync": "%s", "country": "DE"},
    {"name": "lag", "url": "%s", "rsync": "%s", "country": "DE"}]}]}`

// TestFileAsAsked: the file a file-aware pool looks up is the file the
// mirror is asked for, "%2F" included, and a file no mirror holds goes to
// the fallback with its path, so the fallback can be the origin's server.
func TestFileAsAsked(t *testing.T) {
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	origin := t.TempDir()
	itest.WriteTree(t, origin, map[string]string{"pub/a/b.iso": "bbbb", "pub/a%2Fb.iso": "odd name", "pub/only-origin.iso": "o"}, day)
	full, lag := newFileMirror(t, true), newFileMirror(t, true)
	itest.WriteTree(t, full.dir, map[string]string{"pub/a/b.iso": "bbbb"}, day)
	itest.WriteTree(t, lag.dir, map[string]string{"pub/a%2Fb.iso": "odd name"}, day)
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, fmt.Sprintf(twoListedConfig, "random", origin, "404", full.url, full.rsync, lag.url, lag.rsync))
	srv := startFile(t, path)
	waitListed(t, srv, "full", "lag")
	tests := []struct{ target, mirror, location string }{
		{"/pub/a%2Fb.iso", "full", full.url + "/pub/a/b.iso"},
		{"/pub/a/b.iso", "full", full.url + "/pub/a/b.iso"},
		{"/pub/a%252Fb.iso", "lag", lag.url + "/pub/a%252Fb.iso"},
		{"/pub/only-origin.iso?v=2&mirror=full", "fallback", "https://fallback.example/pub/only-origin.iso?v=2"},
	}
	for _, tt := range tests {
		for range 20 {
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, httptest.NewRequest("GET", tt.target, nil))
			if w.Code != 302 || w.Header().Get("X-Mirror") != tt.mirror || w.Header().Get("Location") != tt.location {
				t.Fatalf("GET %s = %d to %s at %q; want 302 to %s at %q", tt.target, w.Code,
					w.Header().Get("X-Mirror"), w.Header().Get("Location"), tt.mirror, tt.location)
			}
		}
	}
}

// tally makes n requests for path and counts the 302s by mirror; any
// other answer ends the test.
func tally(t *testing.T, srv *server.Server, path string, n int) map[string]int {
	t.Helper()
	sent := map[string]int{}
	for range n {
		m, code := redirect(srv, path)
		if code != 302 {
			t.Fatalf("GET %s = %d", path, code)
		}
		sent[m]++
	}
	return sent
}

// sendUntil makes requests for path until done says so of the 302s
// counted by mirror, and returns the counts; any other answer ends the
// test.
func sendUntil(t *testing.T, srv *server.Server, path, what string, done func(sent map[string]int) bool) map[string]int {
	t.Helper()
	sent := map[string]int{}
	itest.WaitFor(t, 20*time.Second, what, func() bool {
		m, code := redirect(srv, path)
		if code != 302 {
			t.Fatalf("GET %s = %d", path, code)
		}
		sent[m]++
		return done(sent)
	})
	return sent
}

// waitScanned waits until the server's ?mirrorlist of path gives the
// origin's mtime at: the origin's rescan has been swapped in.
func waitScanned(t *testing.T, srv *server.Server, path string, at time.Time) {
	t.Helper()
	itest.WaitFor(t, 20*time.Second, "the rescan to see "+path+" of "+at.UTC().Format(time.RFC3339), func() bool {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest("GET", path+"?mirrorlist", nil))
		return strings.Contains(w.Body.String(), at.UTC().Format(time.RFC3339))
	})
}

// verifyConfig is a file-aware pool with verify and a fallback, of mirrors
// without rsync: origin, then name and url of each of three mirrors.
const verifyConfig = `{"pools": [{"name": "pub", "routes": ["/pub/*file"], "strategy": "roundrobin",
  "fallback": "https://origin.example",
  "files": {"origin": "%s", "schedule": "@every 1s", "verify": true},
  "mirrors": [{"name": "%s", "url": "%s"}, {"name": "%s", "url": "%s"}, {"name": "%s", "url": "%s"}]}]}`

// TestVerifyJudgesAge: with verify, a mirror without rsync that holds an
// older copy of the same size (apt's InRelease) never gets the file; a
// file no mirror has passed a check for yet goes to the fallback (the
// origin); when the origin's copy changes, the mirrors that passed the
// old one get no request until they pass the new one.
func TestVerifyJudgesAge(t *testing.T) {
	origin := t.TempDir()
	v1 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	itest.WriteTree(t, origin, map[string]string{"pub/InRelease": "release 1"}, v1)
	fresh, behind, other := newFileMirror(t, false), newFileMirror(t, false), newFileMirror(t, false)
	itest.WriteTree(t, fresh.dir, map[string]string{"pub/InRelease": "release 1"}, v1)
	itest.WriteTree(t, behind.dir, map[string]string{"pub/InRelease": "release 0"}, v1.Add(-24*time.Hour))
	itest.WriteTree(t, other.dir, map[string]string{"pub/InRelease": "release 1"}, v1)
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, fmt.Sprintf(verifyConfig, origin, "fresh", fresh.url, "behind", behind.url, "other", other.url))
	srv := startFile(t, path)
	sent := sendUntil(t, srv, "/pub/InRelease", "fresh and other to get InRelease", func(sent map[string]int) bool {
		return sent["fresh"] > 10 && sent["other"] > 10
	})
	if sent["behind"] > 0 {
		t.Errorf("the mirror a release behind got InRelease %d times: %v", sent["behind"], sent)
	}
	// The origin publishes release 2, of the same size; other syncs it.
	v2 := v1.Add(24 * time.Hour)
	itest.WriteTree(t, origin, map[string]string{"pub/InRelease": "release 2"}, v2)
	itest.WriteTree(t, other.dir, map[string]string{"pub/InRelease": "release 2"}, v2)
	waitScanned(t, srv, "/pub/InRelease", v2)
	sent = sendUntil(t, srv, "/pub/InRelease", "other to get release 2", func(sent map[string]int) bool {
		return sent["other"] > 10
	})
	if sent["fresh"]+sent["behind"] > 0 {
		t.Errorf("after release 2, InRelease went to mirrors still on release 1: %v", sent)
	}
}

// TestReloadMovesMirror: a reload that changes only a mirror's url checks
// the mirror at its new URL at once: no request goes there while the new
// URL lacks the file.
func TestReloadMovesMirror(t *testing.T) {
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	origin := t.TempDir()
	itest.WriteTree(t, origin, map[string]string{"pub/a.iso": "aaaa"}, day)
	a, b, c, empty := newFileMirror(t, false), newFileMirror(t, false), newFileMirror(t, false), newFileMirror(t, false)
	for _, m := range []*fileMirror{a, b, c} {
		itest.WriteTree(t, m.dir, map[string]string{"pub/a.iso": "aaaa"}, day)
	}
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, fmt.Sprintf(verifyConfig, origin, "a", a.url, "b", b.url, "c", c.url))
	srv := startFile(t, path)
	sendUntil(t, srv, "/pub/a.iso", "every mirror to get a.iso", func(sent map[string]int) bool {
		return sent["a"] > 0 && sent["b"] > 0 && sent["c"] > 0
	})
	itest.WriteFile(t, path, fmt.Sprintf(verifyConfig, origin, "a", a.url, "b", b.url, "c", empty.url))
	if err := srv.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	sent := tally(t, srv, "/pub/a.iso", 300)
	if sent["c"] > 0 || sent["a"] == 0 || sent["b"] == 0 {
		t.Errorf("after c moved to a URL without the file: %v; want a and b only", sent)
	}
}

// TestStartAndReloadKnowing: at start, while one mirror's rsync hangs, no
// request goes to it (the listed mirror or the fallback gets them); a
// reload that renames a mirror and changes the schedule keeps what was
// known: the listed holder gets every request at once.
func TestStartAndReloadKnowing(t *testing.T) {
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	origin := t.TempDir()
	itest.WriteTree(t, origin, map[string]string{"pub/a.iso": "aaaa"}, day)
	fast := newFileMirror(t, true)
	itest.WriteTree(t, fast.dir, map[string]string{"pub/a.iso": "aaaa"}, day)
	slowURL := "rsync://" + itest.SilentListener(t) + "/root" // accepts, never answers
	cfg := `{"pools": [{"name": "pub", "routes": ["/pub/*file"], "fallback": "https://origin.example",
	  "files": {"origin": "%s", "schedule": "%s", "timeout": "1m"},
	  "mirrors": [{"name": "%s", "url": "%s", "rsync": "%s"}, {"name": "slow", "url": "http://slow.example", "rsync": "%s"}]}]}`
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, fmt.Sprintf(cfg, origin, "@every 1h", "fast", fast.url, fast.rsync, slowURL))
	srv := startFile(t, path)
	sent := sendUntil(t, srv, "/pub/a.iso", "fast to be listed", func(sent map[string]int) bool {
		return sent["fast"] >= 20
	})
	if sent["slow"] > 0 {
		t.Errorf("while slow was not listed yet it got %d requests: %v", sent["slow"], sent)
	}
	itest.WriteFile(t, path, fmt.Sprintf(cfg, origin, "@every 30m", "fast2", fast.url, fast.rsync, slowURL))
	if err := srv.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	sent = tally(t, srv, "/pub/a.iso", 200)
	if sent["fast2"] != 200 {
		t.Errorf("right after a reload that renamed fast: %v; want fast2 only", sent)
	}
}

// TestRepublishAfterFlush: after a FLUSHALL (or a Redis restart without
// persistence) the leader publishes its scan results again, so a follower
// started afterwards becomes file-aware within seconds.
func TestRepublishAfterFlush(t *testing.T) {
	r := itest.Redis(t, 0)
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	origin := t.TempDir()
	itest.WriteTree(t, origin, map[string]string{"pub/b.iso": "bb"}, day)
	full, lag := newFileMirror(t, true), newFileMirror(t, true)
	itest.WriteTree(t, full.dir, map[string]string{"pub/b.iso": "bb"}, day)
	// Health probes every second keep a's lease (the lease holder scans
	// and publishes) and take it again after the flush.
	cfg := fmt.Sprintf(`{"redis": "redis://%s/0", "health": {"schedule": "@every 1s"},
	  "pools": [{"name": "pub", "routes": ["/pub/*file"],
	  "files": {"origin": "%s", "schedule": "@every 1h"},
	  "mirrors": [{"name": "full", "url": "%s", "rsync": "%s"}, {"name": "lag", "url": "%s", "rsync": "%s"}]}]}`,
		r.Addr, origin, full.url, full.rsync, lag.url, lag.rsync)
	a := startInstance(t, cfg)
	itest.WaitFor(t, 20*time.Second, "a to scan every mirror", func() bool {
		return filesOf(a).ScansHere > 0 && mirrorStatus(t, a, "pub", "lag").Files.LastScan != nil
	})
	cli := func(args ...string) string {
		args = append([]string{"-p", r.Addr[strings.LastIndexByte(r.Addr, ':')+1:]}, args...)
		out, err := exec.Command(itest.Need(t, "redis-cli", "redis-tools"), args...).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	itest.WaitFor(t, 20*time.Second, "a's results in Redis", func() bool {
		return cli("exists", "dispatcher:files:{pub}:version") == "1"
	})
	cli("flushall")
	itest.WaitFor(t, 20*time.Second, "a to hold the lease again", func() bool {
		return cli("exists", "dispatcher:feedback:lease") == "1"
	})
	b := startInstance(t, cfg)
	itest.WaitFor(t, 20*time.Second, "b to adopt a's results after the flush", func() bool { return filesOf(b).Adopted > 0 })
	for range 50 {
		if m, code := redirect(b, "/pub/b.iso"); code != 302 || m != "full" {
			t.Fatalf("the follower sent b.iso to %q (%d); only full holds it", m, code)
		}
	}
}

// TestSharedOnCluster runs two instances on a real 3-master Redis
// Cluster: the follower adopts the leader's file scan results (their keys
// share a {pool} hash tag, so MULTI/EXEC stays in one slot) and sends a
// file only to its holder, a drain made on one instance reaches the
// other, round-robin positions come from the cluster, and neither
// instance ever takes the cluster for down.
func TestSharedOnCluster(t *testing.T) {
	nodes := itest.RedisCluster(t, 3)
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	origin := t.TempDir()
	itest.WriteTree(t, origin, map[string]string{"pub/b.iso": "bb"}, day)
	full, lag := newFileMirror(t, true), newFileMirror(t, true)
	itest.WriteTree(t, full.dir, map[string]string{"pub/b.iso": "bb"}, day)
	// A request waits up to 5 s for a position: a slow moment of a busy
	// test machine must not look like the cross-slot failures this test
	// is about (those fall back at once).
	cfg := fmt.Sprintf(`{"redis": "redis+cluster://%s?addr=%s&addr=%s", "redis_timeout": "5s", "pools": [
	  {"name": "pub", "routes": ["/pub/*file"], "files": {"origin": "%s", "schedule": "@every 1s"},
	   "mirrors": [{"name": "full", "url": "%s", "rsync": "%s"}, {"name": "lag", "url": "%s", "rsync": "%s"}]},
	  {"name": "rr", "routes": ["/rr/*file"], "strategy": "roundrobin",
	   "mirrors": [{"name": "r1", "url": "http://r1.example"}, {"name": "r2", "url": "http://r2.example"}]}]}`,
		nodes[0], nodes[1], nodes[2], origin, full.url, full.rsync, lag.url, lag.rsync)
	a := startInstance(t, cfg)
	itest.WaitFor(t, 20*time.Second, "a to scan every mirror", func() bool {
		return filesOf(a).ScansHere > 0 && mirrorStatus(t, a, "pub", "lag").Files.LastScan != nil
	})
	b := startInstance(t, cfg)
	itest.WaitFor(t, 20*time.Second, "b to adopt a's results", func() bool { return filesOf(b).Adopted > 0 })
	for range 50 {
		if m, code := redirect(b, "/pub/b.iso"); code != 302 || m != "full" {
			t.Fatalf("the follower sent b.iso to %q (%d); only full holds it", m, code)
		}
	}
	if err := a.SetEnabled(context.Background(), "rr", "r2", false); err != nil {
		t.Fatal(err)
	}
	itest.WaitFor(t, 20*time.Second, "b to see the drain of r2", func() bool {
		m, _ := redirect(b, "/rr/x")
		return m == "r1" && mirrorStatus(t, b, "rr", "r2").Enabled == false
	})
	for range 100 {
		redirect(a, "/rr/x")
		redirect(b, "/rr/x")
	}
	for _, srv := range []*server.Server{a, b} {
		st := srv.Status().Redis
		if !st.Connected || st.Fallbacks != 0 {
			t.Errorf("redis status %+v; want connected, no local round-robin positions", st)
		}
	}
}
