package files

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

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
	all := []uint64{0b1111}
	itest.WaitFor(t, 10*time.Second, "the checks to take the bad mirrors out", func() bool {
		v.Requested("pub/a b.iso", 5, all)
		ex := v.Excluded("pub/a b.iso")
		return ex != nil && ex[0] == 0b1110
	})
	if v.Excluded("pub/other.iso") != nil {
		t.Errorf("a file never checked has exclusions")
	}
	// The missing file comes back: the mirror passes again.
	gone.Store(false)
	itest.WaitFor(t, 10*time.Second, "the mirror that got the file back", func() bool {
		v.Requested("pub/a b.iso", 5, all)
		ex := v.Excluded("pub/a b.iso")
		return ex != nil && ex[0] == 0b1100
	})
	// Within the trust period, requests do not check again: 100 requests
	// make one round of HEADs.
	v2 := NewVerifier(VerifierOptions{OKTTL: time.Hour, Mirrors: []struct{ Name, URL string }{{"good", good.URL}, {"short", short.URL}}})
	go v2.Run(ctx)
	for range 100 {
		v2.Requested("pub/a b.iso", 5, []uint64{0b11})
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
