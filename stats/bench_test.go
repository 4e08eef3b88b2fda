package stats

import (
	"context"
	"fmt"
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
