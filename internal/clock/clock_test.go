package clock

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestWallIsTimeNow: an Instant's wall time lies between the wall-clock
// readings taken around it (a millisecond allowed for the slew).
func TestWallIsTimeNow(t *testing.T) {
	for range 1000 {
		before := time.Now().Round(0) // wall clock only
		i := Now()
		after := time.Now().Round(0)
		w := i.Wall().Round(0)
		if w.Before(before.Add(-time.Millisecond)) || w.After(after.Add(time.Millisecond)) {
			t.Fatalf("Wall() = %v; read between %v and %v", w, before, after)
		}
	}
}

// TestSinceGrows: Since is the monotonic time elapsed, never negative.
func TestSinceGrows(t *testing.T) {
	i := Now()
	before := time.Now()
	for range 1000 {
		j := Now()
		if j < i {
			t.Fatalf("Now() went back: %d after %d", j, i)
		}
		if d := i.Since(); d < 0 || d < time.Since(before)-time.Millisecond {
			t.Fatalf("Since() = %v; at least %v elapsed", d, time.Since(before))
		}
		if got := i.Add(5 * time.Second); got-i != Instant(5*time.Second) {
			t.Fatalf("Add(5s) moved %v", time.Duration(got-i))
		}
	}
}

// TestWallFollowsAStep: the wall clock is read once per anchor, and an
// Instant a second or more from the anchor reads it again, so a step of
// the wall clock shows.
func TestWallFollowsAStep(t *testing.T) {
	w0 := time.Date(2026, 12, 3, 23, 59, 59, 500_000_000, time.UTC)
	var reads int
	stepped := false
	read := func() (Instant, time.Time) {
		reads++
		if stepped {
			// The wall clock was stepped an hour ahead at 1 s.
			return Instant(1500 * time.Millisecond), w0.Add(time.Hour + 1500*time.Millisecond)
		}
		return 0, w0
	}
	var a atomic.Pointer[anchor]
	for _, tt := range []struct {
		at    time.Duration
		step  bool
		want  time.Time
		reads int
	}{
		{0, false, w0, 1},
		{400 * time.Millisecond, false, w0.Add(400 * time.Millisecond), 1},
		{-300 * time.Millisecond, false, w0.Add(-300 * time.Millisecond), 1},
		{999 * time.Millisecond, false, w0.Add(999 * time.Millisecond), 1},
		{1500 * time.Millisecond, true, w0.Add(time.Hour + 1500*time.Millisecond), 2},
		{1700 * time.Millisecond, true, w0.Add(time.Hour + 1700*time.Millisecond), 2},
		// An Instant taken a second or more before the anchor (another
		// goroutine anchored meanwhile) reads the clock again too.
		{0, true, w0.Add(time.Hour), 3},
	} {
		stepped = tt.step
		got := wallOf(Instant(tt.at), &a, read)
		if !got.Equal(tt.want) || reads != tt.reads {
			t.Errorf("at %v: Wall = %v after %d reads; want %v after %d", tt.at, got, reads, tt.want, tt.reads)
		}
	}
}
