package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
	"github.com/dispatcher/dispatcher/server"
)

// startFile runs a server on the config file path until the test ends;
// each setup sees it before it starts.
func startFile(t *testing.T, path string, setups ...func(*server.Server)) *server.Server {
	t.Helper()
	srv, err := server.New(server.Options{ConfigPath: path})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range setups {
		f(srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srv.Stop() })
	return srv
}

// TestReloadDoesNotWaitForProbes: with one mirror whose probe hangs (its
// timeout is a minute), a reload still returns, and serves the new file.
func TestReloadDoesNotWaitForProbes(t *testing.T) {
	hung := make(chan struct{}, 16)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hung <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); hang.Close() })
	cfg := `{"health": {"schedule": "@every 1m", "timeout": "1m"},
	  "pools": [{"name": "p", "routes": ["/p/*file"], "mirrors": [
	    {"name": "%s", "url": "http://a.example", "health_url": "%s"}]}]}`
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, fmt.Sprintf(cfg, "a", hang.URL))
	srv := startFile(t, path)
	select {
	case <-hung:
	case <-time.After(10 * time.Second):
		t.Fatal("the first probe never reached the mirror")
	}
	itest.WriteFile(t, path, fmt.Sprintf(cfg, "b", hang.URL))
	done := make(chan error, 1)
	go func() { done <- srv.Reload(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("reload still waiting for a hanging probe")
	}
	if m, code := redirect(srv, "/p/x"); m != "b" || code != 302 {
		t.Errorf("after the reload: %d to %q; want 302 to b", code, m)
	}
}

// TestOverlappingReloads reloads from 8 goroutines at once, 25 times over,
// while the file changes and the health probes run: every reload answers,
// nothing panics, and the file's last version is what serves.
func TestOverlappingReloads(t *testing.T) {
	mirror := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(mirror.Close)
	cfg := `{"health": {"schedule": "@every 1s", "timeout": "1s"},
	  "feedback": {"schedule": "@every 1s"},
	  "pools": [{"name": "p", "routes": ["/p/*file"], "strategy": "roundrobin", "mirrors": [
	    {"name": "gen%d", "url": "%s"}, {"name": "other", "url": "%s", "weight": 2}]}]}`
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, fmt.Sprintf(cfg, 0, mirror.URL, mirror.URL))
	srv := startFile(t, path)
	var failed atomic.Int64
	for gen := 1; gen <= 25; gen++ {
		itest.WriteFile(t, path, fmt.Sprintf(cfg, gen, mirror.URL, mirror.URL))
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := srv.Reload(context.Background()); err != nil {
					failed.Add(1)
					t.Errorf("reload: %v", err)
				}
			}()
		}
		wg.Wait()
	}
	if failed.Load() > 0 {
		t.Fatalf("%d of 200 reloads failed", failed.Load())
	}
	st := mirrorStatus(t, srv, "p", "gen25")
	if !st.Up {
		t.Errorf("gen25 after the reloads: %+v; want up", st)
	}
	itest.WaitFor(t, 15*time.Second, "gen25 probed", func() bool { return mirrorStatus(t, srv, "p", "gen25").LastProbe != nil })
}

// TestProbeOnceByURL: a mirror listed in three pools is probed once per run.
func TestProbeOnceByURL(t *testing.T) {
	var hits atomic.Int64
	mirror := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(mirror.Close)
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, fmt.Sprintf(`{"health": {"schedule": "@every 1h"},
	  "pools": [
	    {"name": "a", "routes": ["/a/*file"], "mirrors": [{"name": "m", "url": "%[1]s/a"}]},
	    {"name": "b", "routes": ["/b/*file"], "mirrors": [{"name": "m", "url": "%[1]s/b"}]},
	    {"name": "c", "routes": ["/c/*file"], "mirrors": [{"name": "m", "url": "%[1]s"}]}]}`, mirror.URL))
	srv := startFile(t, path)
	itest.WaitFor(t, 10*time.Second, "the first probes", func() bool {
		for _, p := range []string{"a", "b", "c"} {
			if mirrorStatus(t, srv, p, "m").LastProbe == nil {
				return false
			}
		}
		return true
	})
	if n := hits.Load(); n != 1 {
		t.Errorf("one run probed the shared mirror %d times; want 1", n)
	}
}
