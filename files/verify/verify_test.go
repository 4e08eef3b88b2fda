package verify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/files"
	"github.com/dispatcher/dispatcher/internal/itest"
)

// day is the origin's mtime of the files the verify tests check.
var day = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// failedMask returns the mirrors whose last check of path failed.
func failedMask(v *Verifier, path string) uint64 {
	if d := v.Verdict(path); d != nil {
		return d.Failed[0]
	}
	return 0
}

// passedMask returns the mirrors that passed a check of path's copy ver.
func passedMask(v *Verifier, path string, ver files.Version) uint64 {
	if d := v.Verdict(path); d != nil && d.Version == ver {
		return d.Passed[0]
	}
	return 0
}

// TestVerifier checks requested files on real HTTP mirrors: a 404, a
// redirect elsewhere and a wrong Content-Length take a mirror out for the
// file; a good answer keeps it; when the file comes back the mirror does
// too; requests only queue work.
func TestVerifier(t *testing.T) {
	var gone atomic.Bool
	gone.Store(true)
	mux := func(body string, status int) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/pub/a b.iso" {
				w.WriteHeader(404)
				return
			}
			if status == 302 {
				http.Redirect(w, r, "https://elsewhere.example/a.iso", 302)
				return
			}
			if status == 404 && gone.Load() {
				w.WriteHeader(404)
				return
			}
			w.Header().Set("Last-Modified", day.Format(http.TimeFormat))
			w.Write([]byte(body))
		}))
		t.Cleanup(s.Close)
		return s
	}
	good, missing, moved, short := mux("12345", 200), mux("12345", 404), mux("", 302), mux("123", 200)
	v := NewVerifier(VerifierOptions{OKTTL: 200 * time.Millisecond, Mirrors: []struct{ Name, URL string }{
		{"good", good.URL}, {"missing", missing.URL + "/"}, {"moved", moved.URL}, {"short", short.URL}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go v.Run(ctx)
	ver := files.Version{Size: 5, MTime: day.Unix()}
	c := files.Check{Path: "pub/a b.iso", Version: ver, Holders: []uint64{0b1111}}
	itest.WaitFor(t, 10*time.Second, "the checks to take the bad mirrors out", func() bool {
		v.Requested(c)
		return failedMask(v, c.Path) == 0b1110 && passedMask(v, c.Path, ver) == 0b0001
	})
	if v.Verdict("pub/other.iso") != nil {
		t.Errorf("a file never checked has a verdict")
	}
	// The missing file comes back: the mirror passes again.
	gone.Store(false)
	itest.WaitFor(t, 10*time.Second, "the mirror that got the file back", func() bool {
		v.Requested(c)
		return failedMask(v, c.Path) == 0b1100 && passedMask(v, c.Path, ver) == 0b0011
	})
	// Within the trust period, requests do not check again: 100 requests
	// make one round of HEADs.
	v2 := NewVerifier(VerifierOptions{OKTTL: time.Hour, Mirrors: []struct{ Name, URL string }{{"good", good.URL}, {"short", short.URL}}})
	go v2.Run(ctx)
	for range 100 {
		v2.Requested(files.Check{Path: c.Path, Version: ver, Holders: []uint64{0b11}})
	}
	itest.WaitFor(t, 10*time.Second, "the queue to drain and the checks to end", func() bool {
		v2.mu.Lock()
		defer v2.mu.Unlock()
		return len(v2.queue) == 0 && len(v2.active) == 0 && len(v2.last) == 2
	})
	if checks, dropped := v2.Stats(); checks != 2 || dropped != 0 {
		t.Errorf("100 requests within the trust period made %d checks (%d dropped); want 2", checks, dropped)
	}
}

// TestVerifierJudgesAge: a mirror whose copy has the origin's size but an
// older Last-Modified (apt's InRelease keeps its size from release to
// release) fails, as does one that sends no Last-Modified; a pass counts
// for the origin's copy it was checked against only: when the origin's
// copy changes, the pass no longer counts, within the trust period too,
// and the file is checked again at once.
func TestVerifierJudgesAge(t *testing.T) {
	serve := func(modified func() time.Time) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if at := modified(); !at.IsZero() {
				w.Header().Set("Last-Modified", at.Format(http.TimeFormat))
			}
			w.Write([]byte("InRelease"))
		}))
		t.Cleanup(s.Close)
		return s
	}
	var current atomic.Int64 // what the current mirror holds
	current.Store(day.Unix())
	fresh := serve(func() time.Time { return time.Unix(current.Load(), 0) })
	behind := serve(func() time.Time { return day.Add(-24 * time.Hour) })
	bare := serve(func() time.Time { return time.Time{} })
	v := NewVerifier(VerifierOptions{OKTTL: time.Hour, Mirrors: []struct{ Name, URL string }{
		{"fresh", fresh.URL}, {"behind", behind.URL}, {"bare", bare.URL}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go v.Run(ctx)
	path := "dists/stable/InRelease"
	v1 := files.Version{Size: 9, MTime: day.Unix()}
	itest.WaitFor(t, 10*time.Second, "the first round of checks", func() bool {
		v.Requested(files.Check{Path: path, Version: v1, Unsure: []uint64{0b111}})
		return passedMask(v, path, v1) == 0b001 && failedMask(v, path) == 0b110
	})
	// The origin publishes a new InRelease of the same size, and the fresh
	// mirror syncs it: the pass for the old copy no longer counts, though
	// the trust period is an hour, and the next request checks at once.
	v2 := files.Version{Size: 9, MTime: day.Add(24 * time.Hour).Unix()}
	current.Store(v2.MTime)
	if got := passedMask(v, path, v2); got != 0 {
		t.Fatalf("passes against the old copy count for the new one: %b", got)
	}
	v.Requested(files.Check{Path: path, Version: v2, Unsure: []uint64{0b111}})
	itest.WaitFor(t, 10*time.Second, "the fresh mirror to pass the new copy", func() bool {
		return passedMask(v, path, v2) == 0b001 && failedMask(v, path) == 0b110
	})
}

// TestVerifierSeed: a verifier that replaces another (a reload) keeps the
// verdicts of the mirrors whose URL did not change, under their new
// positions and names, and starts afresh for a mirror at a new URL.
func TestVerifierSeed(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", day.Format(http.TimeFormat))
		w.Write([]byte("12345"))
	}))
	t.Cleanup(ok.Close)
	old := NewVerifier(VerifierOptions{OKTTL: time.Hour, Mirrors: []struct{ Name, URL string }{
		{"a", ok.URL + "/a"}, {"b", ok.URL + "/b"}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go old.Run(ctx)
	ver := files.Version{Size: 5, MTime: day.Unix()}
	itest.WaitFor(t, 10*time.Second, "both mirrors to pass", func() bool {
		old.Requested(files.Check{Path: "f", Version: ver, Unsure: []uint64{0b11}})
		return passedMask(old, "f", ver) == 0b11
	})
	// b is renamed and moved first; a's URL changes.
	n := NewVerifier(VerifierOptions{Seed: old, Mirrors: []struct{ Name, URL string }{
		{"b2", ok.URL + "/b/"}, {"a", ok.URL + "/a-new"}}})
	if got := passedMask(n, "f", ver); got != 0b01 {
		t.Errorf("after the reload, passed %b; want b2's only (a moved)", got)
	}
}
