package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher/dispatcher/internal/itest"
)

const rrConfig = `{"redis_timeout": "%s", "pools": [
  {"name": "home", "routes": ["/"], "strategy": "roundrobin",
   "mirrors": [{"name": "a", "url": "http://a.example", "weight": 5},
               {"name": "b", "url": "http://b.example"}, {"name": "c", "url": "http://c.example"}]},
  {"name": "eq", "routes": ["/eq/*file"], "strategy": "roundrobin",
   "mirrors": [{"name": "x", "url": "http://x.example"}, {"name": "y", "url": "http://y.example"},
               {"name": "z", "url": "http://z.example"}]}]}`

// twoDispatchers starts two dispatchers sharing the Redis at addr.
func twoDispatchers(t *testing.T, redisAddr, budget string, env ...string) (*itest.Process, *itest.Process) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, cfg, fmt.Sprintf(rrConfig, budget))
	args := []string{"-redis", "redis://" + redisAddr + "/0", "-quiet"}
	return itest.Dispatcher(t, cfg, env, args...), itest.Dispatcher(t, cfg, env, args...)
}

func mirrorOf(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 {
		t.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	return resp.Header.Get("X-Mirror")
}

// TestRedisOneCycle calls two instances alternately: together they follow
// the one weighted cycle a a a b a c a (strategy.ExampleRoundRobin_Pick).
func TestRedisOneCycle(t *testing.T) {
	r := itest.Redis(t, 0)
	a, b := twoDispatchers(t, r.Addr, "50ms")
	c := itest.NoRedirectClient(5 * time.Second)
	var got []string
	for i := range 14 {
		p := a
		if i%2 == 1 {
			p = b
		}
		got = append(got, mirrorOf(t, c, "http://"+p.Addr+"/"))
	}
	if s := strings.Join(got, " "); s != "a a a b a c a a a a b a c a" {
		t.Errorf("alternating two instances gave %q; want one cycle a a a b a c a twice", s)
	}
}

// TestRedisConcurrentShare sends 3,000 requests from 20 clients spread over
// two instances: each of three equal mirrors gets a third, to 1%.
func TestRedisConcurrentShare(t *testing.T) {
	r := itest.Redis(t, 0)
	a, b := twoDispatchers(t, r.Addr, "100ms")
	c := itest.NoRedirectClient(5 * time.Second)
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for w := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := a
			if w%2 == 1 {
				p = b
			}
			for range 150 {
				m := mirrorOf(t, c, "http://"+p.Addr+"/eq/f")
				mu.Lock()
				counts[m]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, m := range []string{"x", "y", "z"} {
		if n := counts[m]; n < 990 || n > 1010 {
			t.Errorf("mirror %s got %d of 3000; want 1000 ± 1%% (counts %v)", m, n, counts)
		}
	}
	// Redirect counts are shared: both instances report the fleet total.
	itest.WaitFor(t, 15*time.Second, "shared redirect counts", func() bool {
		return totalRedirects(t, a, "eq") == 3000 && totalRedirects(t, b, "eq") == 3000
	})
}

func status(t *testing.T, p *itest.Process) map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + p.Addr + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func totalRedirects(t *testing.T, p *itest.Process, pool string) int {
	st := status(t, p)
	total := 0
	for _, pp := range st["pools"].([]any) {
		pm := pp.(map[string]any)
		if pm["name"] != pool {
			continue
		}
		for _, m := range pm["mirrors"].([]any) {
			total += int(m.(map[string]any)["redirects"].(float64))
		}
	}
	return total
}

func redisConnected(t *testing.T, p *itest.Process) bool {
	return status(t, p)["redis"].(map[string]any)["connected"].(bool)
}

// TestRedisKilledAndBack kills Redis under load: no request fails; when
// Redis is back on its port the instances share the sequence again.
func TestRedisKilledAndBack(t *testing.T) {
	r := itest.Redis(t, 0)
	a, b := twoDispatchers(t, r.Addr, "20ms")
	c := itest.NoRedirectClient(10 * time.Second)
	var failed, total atomic.Int64
	var worst atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := a
			if w%2 == 1 {
				p = b
			}
			for ctx.Err() == nil {
				start := time.Now()
				resp, err := c.Get("http://" + p.Addr + "/")
				d := time.Since(start)
				total.Add(1)
				if err != nil || resp.StatusCode != 302 {
					failed.Add(1)
				}
				if err == nil {
					resp.Body.Close()
				}
				if int64(d) > worst.Load() {
					worst.Store(int64(d))
				}
			}
		}()
	}
	atLeast := func(n int64) func() bool { return func() bool { return total.Load() >= n } }
	itest.WaitFor(t, 10*time.Second, "200 requests before the outage", atLeast(200))
	port := r.Addr[strings.LastIndexByte(r.Addr, ':')+1:]
	r.Kill()
	itest.WaitFor(t, 10*time.Second, "both instances to see Redis gone", func() bool {
		return !redisConnected(t, a) && !redisConnected(t, b)
	})
	itest.WaitFor(t, 10*time.Second, "200 requests during the outage", atLeast(total.Load()+200))
	var p int
	fmt.Sscan(port, &p)
	r2 := itest.Redis(t, p)
	itest.WaitFor(t, 10*time.Second, "both instances back on Redis", func() bool {
		return redisConnected(t, a) && redisConnected(t, b)
	})
	itest.WaitFor(t, 10*time.Second, "200 requests after the outage", atLeast(total.Load()+200))
	cancel()
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed (worst %s)", failed.Load(), total.Load(), time.Duration(worst.Load()))
	}
	// The sequence goes through the new Redis again.
	rc := redis.NewClient(&redis.Options{Addr: r2.Addr})
	defer rc.Close()
	// Positions reserved before the outage are used first (at most 256).
	before, _ := rc.Get(context.Background(), "dispatcher:rr:home").Int64()
	for range 300 {
		mirrorOf(t, c, "http://"+a.Addr+"/")
	}
	after, _ := rc.Get(context.Background(), "dispatcher:rr:home").Int64()
	if after <= before {
		t.Errorf("after Redis came back the counter stayed at %d over 300 requests", before)
	}
	for _, name := range []string{"a", "b"} {
		out := map[string]*itest.Process{"a": a, "b": b}[name].Output()
		if n := strings.Count(out, "redis unreachable"); n != 1 {
			t.Errorf("instance %s logged the outage %d times; want once:\n%s", name, n, out)
		}
		// One line each way: a call that began while Redis was away and
		// fails after it answered again says nothing new.
		if n := strings.Count(out, "redis reachable again"); n != 1 {
			t.Errorf("instance %s logged the return of Redis %d times; want once:\n%s", name, n, out)
		}
	}
	metrics, err := http.Get("http://" + a.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(metrics.Body)
	metrics.Body.Close()
	if !strings.Contains(string(body), "dispatcher_redis_fallbacks_total ") || strings.Contains(string(body), "dispatcher_redis_fallbacks_total 0\n") {
		t.Errorf("metrics show no fallbacks after an outage")
	}
	t.Logf("%d requests, 0 failed, worst %s, across a Redis outage", total.Load(), time.Duration(worst.Load()))
}

// metricValue reads one unlabelled sample from p's /metrics.
func metricValue(t *testing.T, p *itest.Process, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("metric %s: %q", name, line)
			}
			return f
		}
	}
	t.Fatalf("no metric %s in /metrics", name)
	return 0
}

// TestRedisSequenceUnderLoad sends 20,000 requests over 100 connections to
// two instances on one redis-server, with the default 5 ms budget, after a
// warm-up of 2,000 that lets the reserve size itself to the load: at least
// 99.9% of the round-robin positions of the measured requests come from
// Redis, and neither instance ever marks the healthy Redis unreachable.
func TestRedisSequenceUnderLoad(t *testing.T) {
	r := itest.Redis(t, 0)
	a, b := twoDispatchers(t, r.Addr, "5ms")
	c := itest.NoRedirectClient(10 * time.Second)
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = 100
	const conns = 100
	var failed atomic.Int64
	load := func(each int) {
		var wg sync.WaitGroup
		for w := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := a
				if w%2 == 1 {
					p = b
				}
				for range each {
					resp, err := c.Get("http://" + p.Addr + "/")
					if err != nil || resp.StatusCode != 302 {
						failed.Add(1)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
	}
	counters := func() (fallbacks, positions, trips float64) {
		for _, p := range []*itest.Process{a, b} {
			fallbacks += metricValue(t, p, "dispatcher_redis_fallbacks_total")
			positions += metricValue(t, p, "dispatcher_redis_positions_total")
			trips += metricValue(t, p, "dispatcher_redis_roundtrips_total")
		}
		return
	}
	load(20)
	f0, p0, t0 := counters()
	const measured = conns * 200
	load(200)
	f1, p1, t1 := counters()
	if failed.Load() > 0 {
		t.Errorf("%d requests failed", failed.Load())
	}
	for _, p := range []*itest.Process{a, b} {
		if out := p.Output(); strings.Contains(out, "redis unreachable") {
			t.Errorf("a healthy Redis was logged unreachable:\n%s", out)
		}
	}
	fallbacks := f1 - f0
	t.Logf("%d requests after the warm-up (%.0f local in it): %.0f positions from Redis in %.0f round trips, %.0f local",
		measured, f0, p1-p0, t1-t0, fallbacks)
	if fallbacks*1000 > measured {
		t.Errorf("%.0f of %d positions came from the in-process counter; want at most 0.1%%", fallbacks, measured)
	}
}

// TestRedisSharedDrain drains a mirror on one instance; the other stops
// sending to it.
func TestRedisSharedDrain(t *testing.T) {
	r := itest.Redis(t, 0)
	a, b := twoDispatchers(t, r.Addr, "50ms", "DISPATCHER_ADMIN_TOKEN=tok")
	req, _ := http.NewRequest("POST", "http://"+a.Addr+"/api/pools/eq/mirrors/x/drain", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("drain: %v %v", err, resp)
	}
	resp.Body.Close()
	c := itest.NoRedirectClient(5 * time.Second)
	itest.WaitFor(t, 15*time.Second, "instance b to see the drain", func() bool {
		for range 6 {
			if mirrorOf(t, c, "http://"+b.Addr+"/eq/f") == "x" {
				return false
			}
		}
		return true
	})
}
