package stats

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkQueryFiles is /api/stats by=file over a week of a pool with
// 100,000 distinct files a day, in process: every file of every day is
// read and summed.
func BenchmarkQueryFiles(b *testing.B) {
	m := NewMemory()
	lim := Limits{Files: 100000, Summary: SummaryFor(100000), Retention: 30 * 24 * time.Hour}
	today := DayOf(time.Now())
	for d := range 7 {
		c := newCounts()
		for i := range 100000 {
			c.Files[fmt.Sprintf("/pub/releases/%04d/file-%07d.iso", i/1000, (i*7+d)%150000)]++
			c.Total++
		}
		if err := m.Write(context.Background(), PoolDay{"p", today - Day(d)}, c, "", lim); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), m, Query{Pool: "p", By: ByFile, From: today - 6, To: today, Top: 10}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCounterAdd is one download counted on the request path, from
// parallel goroutines.
func BenchmarkCounterAdd(b *testing.B) {
	c := NewCounter(100000)
	files := make([]string, 1000)
	for i := range files {
		files[i] = fmt.Sprintf("/pub/releases/file-%04d.iso", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Add("p", 20000, files[i%len(files)], "m1", "DE")
			i++
		}
	})
}

// BenchmarkCountedAndWritten is one download counted on the request
// path in a pool of n mirrors, each download to a mirror drawn at random,
// with a Flush to the in-process backend every 35,000 downloads (the
// recorder's every second, at the rate one core answers): what the
// statistics cost a redirect, the request path and its share of the
// writes.
func BenchmarkCountedAndWritten(b *testing.B) {
	for _, n := range []int{3, 1000, 10000} {
		b.Run(fmt.Sprintf("mirrors=%d", n), func(b *testing.B) {
			lim := Limits{Files: 100000, Summary: SummaryFor(100000), Retention: 30 * 24 * time.Hour}
			r := NewRecorder(NewMemory(), lim, slog.New(slog.DiscardHandler))
			names := make([]string, n)
			for i := range names {
				names[i] = fmt.Sprintf("m%d", i)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			today := DayOf(time.Now())
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r.Counter.Add("p", today, "/pub/x.iso", names[rng.IntN(n)], "DE")
				if i++; i == 35000 {
					if err := r.Flush(context.Background()); err != nil {
						b.Fatal(err)
					}
					i = 0
				}
			}
		})
	}
}
