package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/api"
	"github.com/dispatcher/dispatcher/internal/itest"
)

// statsConfig is two pools behind a trusted proxy (the test plays the
// clients through X-Forwarded-For) with the shipped country database: a
// download pool, and an ad slot that does not append the path.
func statsConfig(t *testing.T, extra string) string {
	t.Helper()
	mmdb, err := filepath.Abs("../../data/geo-whois-asn-country.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, cfg, fmt.Sprintf(`{"geoip": %q, "trusted_proxies": ["127.0.0.1/32"], %s "pools": [
  {"name": "iso", "routes": ["/pub/*file"], "strategy": "random",
   "mirrors": [{"name": "m1", "url": "http://m1.example"}, {"name": "m2", "url": "http://m2.example", "weight": 2},
               {"name": "m3", "url": "http://m3.example"}]},
  {"name": "ads", "routes": ["/ad/banner"], "strategy": "roundrobin", "append_path": false,
   "mirrors": [{"name": "red", "url": "http://cdn.example/red.png"}, {"name": "blue", "url": "http://cdn.example/blue.png"}]}]}`, mmdb, extra))
	return cfg
}

// tally is what the statistics must say: the downloads the test sent.
type tally struct {
	total                     uint64
	mirrors, countries, files map[string]uint64
}

func newTally() *tally {
	return &tally{mirrors: map[string]uint64{}, countries: map[string]uint64{}, files: map[string]uint64{}}
}

// The clients, by the country the shipped database places them in.
var clients = map[string]string{"DE": "85.214.0.1", "JP": "133.11.0.1", "US": "8.8.8.8", "unknown": "10.1.2.3"}

// sender sends requests to dispatchers and tallies the downloads among
// them: a GET 302 that does not resume.
type sender struct {
	t      *testing.T
	c      *http.Client
	pools  map[string]*tally // by pool
	n      int
	failed int
}

func newSender(t *testing.T) *sender {
	return &sender{t: t, c: itest.NoRedirectClient(10 * time.Second), pools: map[string]*tally{"iso": newTally(), "ads": newTally()}}
}

// send makes request number s.n to p: a mix of files, countries, HEADs
// and ranges.
func (s *sender) send(p *itest.Process) {
	s.t.Helper()
	i := s.n
	s.n++
	countries := []string{"DE", "JP", "US", "unknown", "DE"}
	country := countries[i%len(countries)]
	method, rng, pool, path := http.MethodGet, "", "iso", fmt.Sprintf("/pub/release-%d.iso", i%7)
	switch i % 11 {
	case 3:
		method = http.MethodHead // not a download
	case 5:
		rng = "bytes=1000-" // a resumed download: not a new one
	case 7:
		rng = "bytes=0-" // a download from the start: one
	case 9, 10:
		pool, path = "ads", "/ad/banner"
	}
	req, _ := http.NewRequest(method, "http://"+p.Addr+path, nil)
	req.Header.Set("X-Forwarded-For", clients[country])
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := s.c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		s.failed++
		return
	}
	if method == http.MethodGet && rng != "bytes=1000-" {
		tl := s.pools[pool]
		tl.total++
		tl.mirrors[resp.Header.Get("X-Mirror")]++
		tl.countries[country]++
		tl.files[path]++
	}
}

// getStats asks p's /api/stats.
func getStats(t *testing.T, p *itest.Process, query string) (api.Stats, int) {
	t.Helper()
	resp, err := http.Get("http://" + p.Addr + "/api/stats?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st api.Stats
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
	}
	return st, resp.StatusCode
}

// rowsOf returns the rows of an answer as a map, and fails on an
// estimated row: every count here must be exact.
func rowsOf(t *testing.T, st api.Stats) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, r := range st.Rows {
		if r.Error != 0 {
			t.Errorf("%s by %s: row %s is an estimate (error %d)", st.Pool, st.By, r.Key, r.Error)
		}
		out[r.Key] = r.Downloads
	}
	return out
}

// checkStats compares every view of p's statistics with the tallies.
func checkStats(t *testing.T, p *itest.Process, s *sender) {
	t.Helper()
	today := time.Now().UTC().Format(time.DateOnly)
	for pool, want := range s.pools {
		for by, wantRows := range map[string]map[string]uint64{"mirror": want.mirrors, "country": want.countries, "file": want.files,
			"day": {today: want.total}} {
			st, code := getStats(t, p, "pool="+pool+"&by="+by+"&from="+today+"&to="+today)
			if code != http.StatusOK {
				t.Fatalf("/api/stats pool %s by %s: %d", pool, by, code)
			}
			if got := rowsOf(t, st); st.Total != want.total || st.Other != 0 || !maps.Equal(got, wantRows) {
				t.Errorf("pool %s by %s: total %d other %d rows %v; sent %d: %v", pool, by, st.Total, st.Other, got, want.total, wantRows)
			}
		}
	}
}

// downloadsCounted sums dispatcher_downloads_total of the instances,
// over their pools.
func downloadsCounted(t *testing.T, ps ...*itest.Process) float64 {
	t.Helper()
	var n float64
	for _, p := range ps {
		resp, err := http.Get("http://" + p.Addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if rest, ok := strings.CutPrefix(line, "dispatcher_downloads_total{"); ok {
				var v float64
				if _, err := fmt.Sscan(rest[strings.IndexByte(rest, '}')+1:], &v); err != nil {
					t.Fatalf("metrics: %q", line)
				}
				n += v
			}
		}
	}
	return n
}

// written is whether every download the instances counted is in Redis.
func written(t *testing.T, ps ...*itest.Process) bool {
	for _, p := range ps {
		if metricValue(t, p, "dispatcher_stats_held") != 0 {
			return false
		}
		if metricValue(t, p, "dispatcher_stats_written_total") != downloadsCounted(t, p) {
			return false
		}
	}
	return true
}

// TestStatsTwoInstancesOneRedis: two instances on one redis-server count
// into one set of figures, exactly: per mirror, country, file and day,
// HEADs and resumed downloads left out, across a reload, a Redis that
// stops answering for a while (the counts are held, then written), and
// a restart of both instances (the figures stay, and grow from there).
// dispatcher ctl stats prints them.
func TestStatsTwoInstancesOneRedis(t *testing.T) {
	r := itest.Redis(t, 0)
	cfg := statsConfig(t, "")
	args := []string{"-redis", "redis://" + r.Addr + "/0", "-quiet"}
	a, b := itest.Dispatcher(t, cfg, nil, args...), itest.Dispatcher(t, cfg, nil, args...)
	s := newSender(t)
	for i := range 300 {
		s.send([]*itest.Process{a, b}[i%2])
		if i == 150 {
			if err := a.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			itest.WaitFor(t, 10*time.Second, "the reload", func() bool { return reloadsLogged(a) == 1 })
		}
	}

	// Redis stops answering (a hung host): the instances hold what they
	// count, and write it once Redis is back.
	if err := r.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			r.Signal(syscall.SIGCONT) //nolint:errcheck // the test failed; let the cleanup stop it
		}
	}()
	for i := range 200 {
		s.send([]*itest.Process{a, b}[i%2])
	}
	itest.WaitFor(t, 15*time.Second, "both instances to hold downloads Redis did not take", func() bool {
		return metricValue(t, a, "dispatcher_stats_held") > 0 && metricValue(t, b, "dispatcher_stats_held") > 0
	})
	for i := range 100 {
		s.send([]*itest.Process{a, b}[i%2])
	}
	if err := r.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	itest.WaitFor(t, 20*time.Second, "every download counted to be written", func() bool { return written(t, a, b) })
	if s.failed > 0 {
		t.Fatalf("%d requests did not get a 302", s.failed)
	}
	if got, want := downloadsCounted(t, a, b), float64(s.pools["iso"].total+s.pools["ads"].total); got != want {
		t.Errorf("dispatcher_downloads_total sums to %v over both instances; %v downloads were sent", got, want)
	}
	checkStats(t, a, s)
	checkStats(t, b, s)

	// A graceful restart of both, right after more downloads: the last
	// write at the stop takes them, the figures stay, and grow.
	for i := range 40 {
		s.send([]*itest.Process{a, b}[i%2])
	}
	for _, p := range []*itest.Process{a, b} {
		p.Stop()
	}
	a, b = itest.Dispatcher(t, cfg, nil, args...), itest.Dispatcher(t, cfg, nil, args...)
	checkStats(t, a, s)
	for i := range 60 {
		s.send([]*itest.Process{a, b}[i%2])
	}
	itest.WaitFor(t, 10*time.Second, "the new downloads to be written", func() bool { return written(t, a, b) })
	checkStats(t, b, s)

	// CSV, for spreadsheets.
	resp, err := http.Get("http://" + a.Addr + "/api/stats?pool=iso&by=mirror&format=csv")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="iso-mirror-`) || !strings.HasSuffix(cd, `.csv"`) {
		t.Errorf("CSV Content-Disposition %q", cd)
	}
	if err != nil || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || len(recs) != 4 ||
		strings.Join(recs[0], ",") != "mirror,downloads,error" {
		t.Fatalf("CSV: %q %v (%s)", recs, err, resp.Header.Get("Content-Type"))
	}
	for _, rec := range recs[1:] {
		if want := fmt.Sprint(s.pools["iso"].mirrors[rec[0]]); rec[1] != want {
			t.Errorf("CSV row %v: want %s downloads", rec, want)
		}
	}

	// Bad parameters: a 400 that says what is wrong; an unknown pool: 404.
	for query, want := range map[string]int{
		"pool=iso&by=week": 400, "pool=iso&from=2026-13-01": 400, "pool=iso&top=0": 400, "pool=iso&format=xml": 400,
		"pool=iso&from=2026-12-03&to=2026-12-01": 400, "pool=iso&from=2020-01-01&to=2026-01-01": 400,
		"by=day": 400, "pool=nope": 404,
	} {
		if _, code := getStats(t, a, query); code != want {
			t.Errorf("/api/stats?%s = %d; want %d", query, code, want)
		}
	}

	// dispatcher ctl stats prints a table with every mirror's figure.
	out, _, code := ctlRun(t, nil, "-addr", "http://"+a.Addr, "stats", "-pool", "iso", "-by", "mirror")
	if code != 0 {
		t.Fatalf("ctl stats exited %d: %s", code, out)
	}
	for m, n := range s.pools["iso"].mirrors {
		if !hasFields(out, fmt.Sprint(n), m) {
			t.Errorf("ctl stats does not show %s with %d downloads:\n%s", m, n, out)
		}
	}
	if !hasFields(out, fmt.Sprint(s.pools["iso"].total), "(total)") {
		t.Errorf("ctl stats does not show the total %d:\n%s", s.pools["iso"].total, out)
	}
}

// TestStatsSkewedInProcess: without Redis, a scanner's thousands of
// distinct paths do not grow the figures past stats.files exact files
// and the summary, and the popular files, asked for first, stay exact.
func TestStatsSkewedInProcess(t *testing.T) {
	cfg := statsConfig(t, `"stats": {"files": 50},`)
	p := itest.Dispatcher(t, cfg, nil, "-quiet")
	c := itest.NoRedirectClient(10 * time.Second)
	get := func(path string) {
		resp, err := c.Get("http://" + p.Addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("GET %s = %d", path, resp.StatusCode)
		}
	}
	popular := func() {
		for i := range 5 {
			for range 4 * (i + 1) {
				get(fmt.Sprintf("/pub/popular-%d.iso", i))
			}
		}
	}
	popular()
	const scanned = 3000
	for i := range scanned {
		get(fmt.Sprintf("/pub/scan/%d", i))
	}
	popular()
	total := uint64(2*4*(1+2+3+4+5) + scanned)
	itest.WaitFor(t, 10*time.Second, "every download written", func() bool { return written(t, p) })
	st, code := getStats(t, p, "pool=iso&by=file&top=5")
	if code != http.StatusOK {
		t.Fatal(code)
	}
	got := rowsOf(t, st)
	for i := range 5 {
		if want := uint64(8 * (i + 1)); got[fmt.Sprintf("/pub/popular-%d.iso", i)] != want {
			t.Errorf("popular-%d: %d downloads; want %d (rows %v)", i, got[fmt.Sprintf("/pub/popular-%d.iso", i)], want, st.Rows)
		}
	}
	if st.Total != total || st.Other != scanned {
		t.Errorf("total %d, other %d; want %d, %d", st.Total, st.Other, total, scanned)
	}
	all, _ := getStats(t, p, "pool=iso&by=file&top=100000")
	if len(all.Rows) > 50+100 {
		t.Errorf("%d files kept for the day; stats.files 50 and its summary of 100 allow 150", len(all.Rows))
	}
	t.Logf("%d distinct paths, %d rows kept", scanned+5, len(all.Rows))
}
