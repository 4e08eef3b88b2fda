package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher/dispatcher/internal/itest"
	"github.com/dispatcher/dispatcher/stats"
)

// randomCounts is a batch of a skewed workload: a few popular files and
// many rare ones.
func randomCounts(rng *rand.Rand, downloads int) *stats.Counts {
	c := &stats.Counts{Mirrors: map[string]uint64{}, Countries: map[string]uint64{}, Files: map[string]uint64{}}
	for range downloads {
		c.Total++
		c.Mirrors[fmt.Sprint("m", rng.IntN(4))]++
		c.Countries[[]string{"DE", "JP", "unknown"}[rng.IntN(3)]]++
		if rng.IntN(2) == 0 {
			c.Files[fmt.Sprint("/popular/", rng.IntN(5))]++
		} else {
			c.Files[fmt.Sprint("/rare/", rng.IntN(400))]++
		}
	}
	return c
}

// TestMemoryIsRedis: the same writes give the same figures in process
// and in Redis (the Lua script and the Go code apply one rule), with the
// exact set and the summary both filled past their limits.
func TestMemoryIsRedis(t *testing.T) {
	r := itest.Redis(t, 0)
	rs := open(t, "redis://"+r.Addr, time.Second).Downloads()
	mem := stats.NewMemory()
	lim := stats.Limits{Files: 20, Summary: 10, Retention: 72 * time.Hour}
	rng := rand.New(rand.NewPCG(5, 6))
	ctx := context.Background()
	today := stats.DayOf(time.Now())
	for i := range 30 {
		pd := stats.PoolDay{Pool: fmt.Sprint("pool", i%2), Day: today - stats.Day(i%3)}
		c := randomCounts(rng, 200)
		for _, b := range []stats.Backend{rs, mem} {
			if err := b.Write(ctx, pd, c, strconv.Itoa(i), lim); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 6 {
		pd := stats.PoolDay{Pool: fmt.Sprint("pool", i%2), Day: today - stats.Day(i%3)}
		fr, err := rs.Read(ctx, pd, true)
		if err != nil {
			t.Fatal(err)
		}
		fm, _ := mem.Read(ctx, pd, true)
		if !reflect.DeepEqual(fr, fm) {
			t.Errorf("%v:\nredis  %+v\nmemory %+v", pd, fr, fm)
		}
		if len(fr.Files) != lim.Files || len(fr.Summary) != lim.Summary || fr.Beyond == 0 {
			t.Errorf("%v: %d exact files, %d in the summary, beyond %d: the test does not fill both", pd, len(fr.Files), len(fr.Summary), fr.Beyond)
		}
	}
}

// TestDownloadsWriteOnce: a write retried under its id (its reply was
// lost) is applied once; the keys expire retention after the day ends.
func TestDownloadsWriteOnce(t *testing.T) {
	r := itest.Redis(t, 0)
	s := open(t, "redis://"+r.Addr, time.Second)
	rs := s.Downloads()
	ctx := context.Background()
	pd := stats.PoolDay{Pool: "p", Day: stats.DayOf(time.Now())}
	lim := stats.Limits{Files: 10, Summary: 10, Retention: 48 * time.Hour}
	c := &stats.Counts{Total: 3, Mirrors: map[string]uint64{"a": 3}, Countries: map[string]uint64{"DE": 3}, Files: map[string]uint64{"/x": 3}}
	for _, id := range []string{"i-1", "i-1", "i-2"} {
		if err := rs.Write(ctx, pd, c, id, lim); err != nil {
			t.Fatal(err)
		}
	}
	f, err := rs.Read(ctx, pd, true)
	if err != nil {
		t.Fatal(err)
	}
	if f.Total != 6 || f.Files["/x"] != 6 {
		t.Fatalf("total %d, /x %d after writes i-1, i-1, i-2 of 3; want 6", f.Total, f.Files["/x"])
	}
	t0, _, _, _, _, _ := rs.keys(pd)
	at, err := s.Client().ExpireTime(ctx, t0).Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := pd.Expires(lim.Retention); at != time.Duration(want.Unix())*time.Second {
		t.Errorf("%s expires at %v; want %v", t0, time.Unix(int64(at/time.Second), 0).UTC(), want)
	}
}

// TestDownloadsOnCluster: on a real 3-master Redis Cluster a write is one
// script over keys of one hash slot, and reads back.
func TestDownloadsOnCluster(t *testing.T) {
	addrs := itest.RedisCluster(t, 3)
	url := "redis+cluster://" + addrs[0]
	for _, a := range addrs[1:] {
		url += map[bool]string{true: "?", false: "&"}[a == addrs[1]] + "addr=" + a
	}
	s := open(t, url, time.Second)
	rs := s.Downloads()
	ctx := context.Background()
	lim := stats.Limits{Files: 5, Summary: 5, Retention: 24 * time.Hour}
	rng := rand.New(rand.NewPCG(7, 8))
	var slots = map[int64]bool{}
	for i, pool := range []string{"iso", "ads", "deb{x}"} {
		pd := stats.PoolDay{Pool: pool, Day: stats.DayOf(time.Now())}
		c := randomCounts(rng, 100)
		if err := rs.Write(ctx, pd, c, fmt.Sprint("w", i), lim); err != nil {
			t.Fatalf("write %s on the cluster: %v", pool, err)
		}
		f, err := rs.Read(ctx, pd, true)
		if err != nil {
			t.Fatal(err)
		}
		if f.Total != c.Total || len(f.Files) != lim.Files {
			t.Errorf("%s: read total %d, %d files; wrote %d", pool, f.Total, len(f.Files), c.Total)
		}
		tk, m, cc, fk, sk, e := rs.keys(pd)
		poolSlots := map[int64]bool{}
		for _, k := range []string{tk, m, cc, fk, sk, e} {
			slot, err := s.Client().(*redis.ClusterClient).ClusterKeySlot(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			poolSlots[slot], slots[slot] = true, true
		}
		if len(poolSlots) != 1 {
			t.Errorf("%s: the keys of one write are in %d slots", pool, len(poolSlots))
		}
	}
	if len(slots) < 2 {
		t.Logf("the three pools share a slot (%v): possible, not what the test means to show", slots)
	}
}

// TestDownloadsMemoryBounded writes a day of distinct paths, as a
// scanner would send, and measures the day's Redis memory: the exact set
// and the summary stop growing at their limits. DISPATCHER_STATS_PATHS
// sets the number of paths (default 120,000, past the default
// stats.files of 100,000); docs/statistics.md gives the figures.
func TestDownloadsMemoryBounded(t *testing.T) {
	r := itest.Redis(t, 0)
	s := open(t, "redis://"+r.Addr, 5*time.Second)
	rs := s.Downloads()
	paths := 120000
	if v := os.Getenv("DISPATCHER_STATS_PATHS"); v != "" {
		paths, _ = strconv.Atoi(v)
	}
	lim := stats.Limits{Files: 100000, Summary: stats.SummaryFor(100000), Retention: 24 * time.Hour}
	ctx := context.Background()
	pd := stats.PoolDay{Pool: "p", Day: stats.DayOf(time.Now())}
	const perWrite = 5000
	report := map[int]bool{1000: true, 100000: true, paths: true}
	for done := 0; done < paths; {
		c := &stats.Counts{Mirrors: map[string]uint64{"a": 0}, Countries: map[string]uint64{"DE": 0}, Files: map[string]uint64{}}
		for n := min(perWrite, paths-done); n > 0; n-- {
			// 40-byte paths, as a release tree's.
			c.Files[fmt.Sprintf("/pub/releases/%08d/image-%010d.iso", done/1000, done)] = 1
			c.Total++
			done++
			if report[done] {
				break
			}
		}
		c.Mirrors["a"], c.Countries["DE"] = c.Total, c.Total
		if err := rs.Write(ctx, pd, c, strconv.Itoa(done), lim); err != nil {
			t.Fatal(err)
		}
		if report[done] {
			var bytes int64
			tk, m, cc, fk, sk, e := rs.keys(pd)
			for _, k := range []string{tk, m, cc, fk, sk, e} {
				n, err := s.Client().MemoryUsage(ctx, k, 0).Result()
				if err != nil && err != redis.Nil {
					t.Fatal(err)
				}
				bytes += n
			}
			f, err := rs.Read(ctx, pd, true)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d distinct paths: %d bytes in Redis for the day (%d exact, %d in the summary)", done, bytes, len(f.Files), len(f.Summary))
			if len(f.Files) > lim.Files || len(f.Summary) > lim.Summary || f.Total != uint64(done) {
				t.Fatalf("%d exact, %d summary, total %d: past the limits or not every download", len(f.Files), len(f.Summary), f.Total)
			}
			if limit := int64(lim.Files+2*lim.Summary) * 200; bytes > limit {
				t.Errorf("%d bytes for the day; the limits allow about %d", bytes, limit)
			}
		}
	}
}
