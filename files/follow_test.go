package files

import (
	"context"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
	"github.com/dispatcher/dispatcher/store"
)

// TestFollowBetweenScans: an instance that does not scan, started before
// the scanning one published anything, adopts its results within seconds
// although its own schedule is an hour away (redis-server carries them).
func TestFollowBetweenScans(t *testing.T) {
	r := itest.Redis(t, 0)
	st, err := store.Open(store.Options{URL: "redis://" + r.Addr + "/0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	origin := t.TempDir()
	itest.WriteTree(t, origin, map[string]string{"pub/a.iso": "aaaa"}, time.Now())
	share := store.FileResults{Store: st}
	options := func(lead bool) ScannerOptions {
		return ScannerOptions{Pool: "p", Origin: Dir(origin), Mirrors: []ScanMirror{{Name: "m"}}, Share: share,
			Leader: func(context.Context) bool { return lead }}
	}
	follower, leader := NewScanner(options(false)), NewScanner(options(true))
	stop, err := follower.Run(context.Background(), "@every 1h")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	itest.WaitFor(t, 10*time.Second, "the follower's first look, at an empty Redis", func() bool { return follower.following.Load() })
	if follower.View() != nil {
		t.Fatal("the follower has a View before anything was published")
	}
	leader.Scan(context.Background())
	itest.WaitFor(t, 10*time.Second, "the follower to adopt the leader's View", func() bool {
		v := follower.View()
		return v != nil && v.Index.Len() == 1
	})
	if ran, adopted := follower.Scans(); ran != 0 || adopted != 1 {
		t.Errorf("the follower ran %d scans and adopted %d results; want 0 and 1", ran, adopted)
	}
}
