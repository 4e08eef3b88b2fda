package server_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
	"github.com/dispatcher/dispatcher/server"
)

// TestDrainRacesSync drains and enables a mirror 500 times while the Redis
// exchange runs every millisecond: after each admin call returns, its
// effect holds through the next three exchanges; no sync undoes it.
func TestDrainRacesSync(t *testing.T) {
	r := itest.Redis(t, 0)
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, fmt.Sprintf(`{"redis": "redis://%s/0", "pools": [{"name": "p", "routes": ["/p/*file"],
	  "mirrors": [{"name": "x", "url": "http://x.example"}, {"name": "y", "url": "http://y.example"}]}]}`, r.Addr))
	srv := startFile(t, path, func(s *server.Server) { server.SetSyncEvery(s, time.Millisecond) })
	for i := range 500 {
		enabled := i%2 == 1
		if err := srv.SetEnabled(context.Background(), "p", "x", enabled); err != nil {
			t.Fatal(err)
		}
		start, deadline := server.Syncs(srv), time.Now().Add(10*time.Second)
		for server.Syncs(srv) < start+3 {
			if time.Now().After(deadline) {
				t.Fatalf("call %d: the Redis exchange stopped running", i)
			}
			st := mirrorStatus(t, srv, "p", "x")
			if st.Enabled != enabled || (st.EffectiveWeight > 0) != enabled {
				t.Fatalf("call %d: set enabled=%v, then a sync made it enabled=%v (effective weight %v)", i, enabled, st.Enabled, st.EffectiveWeight)
			}
		}
	}
}
