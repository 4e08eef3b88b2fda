package verify

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/files"
	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestVerifierRelease: with verify, a mirror passes a check of a release
// file only when it holds every index the file names, as the origin has
// it; the failure names the index.
func TestVerifierRelease(t *testing.T) {
	mirror := func(packagesAt time.Time) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			at := day
			if strings.HasSuffix(r.URL.Path, "/Packages.gz") {
				at = packagesAt
			}
			w.Header().Set("Last-Modified", at.Format(http.TimeFormat))
			w.Write([]byte("12345"))
		}))
		t.Cleanup(s.Close)
		return s
	}
	full, half := mirror(day), mirror(day.Add(-6*time.Hour))
	log := &itest.Buffer{}
	v := NewVerifier(VerifierOptions{OKTTL: time.Hour, Log: slog.New(slog.NewTextHandler(log, nil)), Mirrors: []struct{ Name, URL string }{{"full", full.URL}, {"half", half.URL}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go v.Run(ctx)
	ver := files.Version{Size: 5, MTime: day.Unix()}
	c := files.Check{Path: "dists/stable/InRelease", Version: ver, Unsure: []uint64{0b11}, Requires: []files.Required{
		{Path: "dists/stable/main/binary-amd64/Packages", Version: ver},
		{Path: "dists/stable/main/binary-amd64/Packages.gz", Version: ver},
	}}
	itest.WaitFor(t, 10*time.Second, "the checks of InRelease", func() bool {
		v.Requested(c)
		return passedMask(v, c.Path, ver) == 0b01 && failedMask(v, c.Path) == 0b10
	})
	if !strings.Contains(log.String(), "it names dists/stable/main/binary-amd64/Packages.gz") {
		t.Errorf("the failure does not name the index:\n%s", log)
	}
}
