package stats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestCounterIsExact: downloads added from many goroutines while flushes
// take them are all there, once, by pool, mirror, country and file.
func TestCounterIsExact(t *testing.T) {
	c := NewCounter(1000)
	const workers, each = 8, 20000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				c.Add(fmt.Sprint("pool", i%2), Day(20000+i%3), fmt.Sprint("/f", i%50), fmt.Sprint("m", w), []string{"DE", "", "JP"}[(i/6)%3])
			}
		}()
	}
	got := Batch{}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		default:
		}
		c.take(got, 1000, new(spares), nil)
	}
	c.take(got, 1000, new(spares), nil)
	if n := got.Downloads(); n != workers*each {
		t.Fatalf("%d downloads taken; %d were added", n, workers*each)
	}
	var perMirror, perFile uint64
	for pd, cs := range got {
		for m, n := range cs.Mirrors {
			perMirror += n
			if want := uint64(each / 6); n < want || n > want+1 {
				t.Errorf("%v mirror %s: %d downloads; want about %d", pd, m, n, want)
			}
		}
		for _, n := range cs.Files {
			perFile += n
		}
		if cs.Countries["unknown"] == 0 || cs.Countries[""] != 0 {
			t.Errorf("%v: countries %v; the empty country must read unknown", pd, cs.Countries)
		}
	}
	if perMirror != workers*each || perFile != workers*each {
		t.Errorf("per mirror %d, per file %d; want %d each", perMirror, perFile, workers*each)
	}
}

// TestCounterBoundsFiles: past maxFiles distinct files a batch counts the
// rest unkeyed, in its totals.
func TestCounterBoundsFiles(t *testing.T) {
	c := NewCounter(10)
	for i := range 1000 {
		c.Add("p", 1, fmt.Sprint("/scan/", i), "m", "DE")
	}
	b := Batch{}
	c.take(b, 10, new(spares), nil)
	cs := b[PoolDay{"p", 1}]
	if len(cs.Files) != 10 || cs.Unkeyed != 990 || cs.Total != 1000 || cs.Mirrors["m"] != 1000 {
		t.Fatalf("files %d, unkeyed %d, total %d, mirror %d; want 10, 990, 1000, 1000", len(cs.Files), cs.Unkeyed, cs.Total, cs.Mirrors["m"])
	}
}

// TestSpaceSavingBounds: over a skewed stream, every count the summary
// gives is within its error of the truth, every error is at most
// stream/capacity, and every file with more downloads than that is
// followed.
func TestSpaceSavingBounds(t *testing.T) {
	const capacity, stream = 50, 100000
	s := newSpaceSaving(capacity)
	truth := map[string]uint64{}
	rng := rand.New(rand.NewPCG(3, 4))
	z := rand.NewZipf(rng, 1.2, 1, 5000)
	for range stream {
		f := fmt.Sprint("/f", z.Uint64())
		truth[f]++
		s.offer(f, 1)
	}
	est := s.estimates()
	if len(est) != capacity {
		t.Fatalf("%d followed; want %d", len(est), capacity)
	}
	bound := uint64(stream / capacity)
	for f, e := range est {
		if e.Count-e.Err > truth[f] || truth[f] > e.Count || e.Err > bound {
			t.Errorf("%s: count %d err %d, truth %d, bound %d", f, e.Count, e.Err, truth[f], bound)
		}
	}
	for f, n := range truth {
		if _, ok := est[f]; n > bound && !ok {
			t.Errorf("%s has %d > %d downloads and is not followed", f, n, bound)
		}
	}
}

func counts(total uint64, mirrors, countries, files map[string]uint64) *Counts {
	return &Counts{Total: total, Mirrors: mirrors, Countries: countries, Files: files}
}

// TestQuery: a pool's figures over days, by day, mirror, country and
// file, with top and other; exact files before the summary's.
func TestQuery(t *testing.T) {
	m := NewMemory()
	today := DayOf(time.Now())
	lim := Limits{Files: 2, Summary: 2, Retention: 48 * time.Hour}
	ctx := context.Background()
	write := func(d Day, c *Counts) {
		if err := m.Write(ctx, PoolDay{"p", d}, c, "", lim); err != nil {
			t.Fatal(err)
		}
	}
	write(today-1, counts(10, map[string]uint64{"a": 7, "b": 3}, map[string]uint64{"DE": 10}, map[string]uint64{"/x": 6, "/y": 4}))
	// Today: /x and /z fill the exact set; /w, /v then /u go to the
	// summary of 2, where /u takes /v's place (1) and carries it as error.
	write(today, counts(9, map[string]uint64{"a": 9}, map[string]uint64{"JP": 5, "unknown": 4}, map[string]uint64{"/x": 2, "/z": 1}))
	write(today, counts(6, map[string]uint64{"b": 6}, map[string]uint64{"JP": 6}, map[string]uint64{"/w": 4, "/v": 1}))
	write(today, counts(1, map[string]uint64{"b": 1}, map[string]uint64{"JP": 1}, map[string]uint64{"/u": 1}))
	write(today-5, counts(99, map[string]uint64{"a": 99}, map[string]uint64{"FR": 99}, nil)) // past retention: dropped
	q := func(by string, top int) string {
		res, err := Run(ctx, m, Query{Pool: "p", By: by, From: today - 2, To: today, Top: top})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d %v other %d", res.Total, res.Rows, res.Other)
	}
	for _, tt := range []struct {
		by   string
		top  int
		want string
	}{
		{ByDay, 0, fmt.Sprintf("26 [{%s 16 0} {%s 10 0} {%s 0 0}] other 0", today, today-1, today-2)},
		{ByMirror, 0, "26 [{a 16 0} {b 10 0}] other 0"},
		{ByCountry, 2, "26 [{JP 12 0} {DE 10 0}] other 4"},
		{ByFile, 0, "26 [{/x 8 0} {/w 4 0} {/y 4 0} {/u 1 1} {/z 1 0}] other 8"},
	} {
		if got := q(tt.by, tt.top); got != tt.want {
			t.Errorf("by %s top %d: %s; want %s", tt.by, tt.top, got, tt.want)
		}
	}
	for _, bad := range []Query{{Pool: "p", By: "week", From: today, To: today}, {Pool: "p", By: ByDay, From: today, To: today - 1},
		{Pool: "p", By: ByDay, From: today - MaxDays, To: today}, {Pool: "p", By: ByDay, From: today, To: today, Top: -1}} {
		if _, err := Run(ctx, m, bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// flaky is a backend that fails while down is set, and counts writes.
type flaky struct {
	*Memory
	mu   sync.Mutex
	down bool
	ids  map[string]int
}

func (f *flaky) Write(ctx context.Context, pd PoolDay, c *Counts, id string, lim Limits) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids[id]++
	if f.down {
		return errors.New("backend down")
	}
	return f.Memory.Write(ctx, pd, c, id, lim)
}

// TestRecorderHolds: while the backend fails, downloads are held and the
// same batch is tried again under one id; once it answers, every
// download is written, once.
func TestRecorderHolds(t *testing.T) {
	b := &flaky{Memory: NewMemory(), down: true, ids: map[string]int{}}
	r := NewRecorder(b, Limits{Files: 100, Summary: 10, Retention: 24 * time.Hour}, slog.New(slog.DiscardHandler))
	day := DayOf(time.Now())
	ctx := context.Background()
	for round := range 5 {
		for i := range 100 {
			r.Counter.Add("p", day, fmt.Sprint("/f", i%7), "m", "DE")
		}
		if err := r.Flush(ctx); err == nil {
			t.Fatal("a flush to a failing backend reported no error")
		}
		if r.Held() != uint64(100*(round+1)) {
			t.Fatalf("round %d: %d held; want %d", round, r.Held(), 100*(round+1))
		}
	}
	if len(b.ids) != 1 {
		t.Fatalf("the held batch was tried under %d ids; want 1 (new downloads wait behind it)", len(b.ids))
	}
	b.mu.Lock()
	b.down = false
	b.mu.Unlock()
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	f, _ := b.Read(ctx, PoolDay{"p", day}, true)
	if f.Total != 500 || f.Mirrors["m"] != 500 || r.Held() != 0 || r.Written() != 500 || r.Counted()["p"] != 500 {
		t.Fatalf("total %d, mirror %d, held %d, written %d, counted %d; want 500, 500, 0, 500, 500", f.Total, f.Mirrors["m"], r.Held(), r.Written(), r.Counted()["p"])
	}
}
