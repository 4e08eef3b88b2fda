package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDownloadsHeap pops downloads in finish order, whatever the order
// they were pushed in.
func TestDownloadsHeap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var h downloads
	var want []float64
	for range 1000 {
		f := r.Float64()
		h.push(download{finish: f})
		want = append(want, f)
		if r.IntN(3) == 0 { // interleave pops
			slices.Sort(want)
			if got := h.pop().finish; got != want[0] {
				t.Fatalf("popped %v; want %v", got, want[0])
			}
			want = want[1:]
		}
	}
	slices.Sort(want)
	for _, w := range want {
		if got := h.pop().finish; got != w {
			t.Fatalf("popped %v; want %v", got, w)
		}
	}
}

// TestLinkSharing checks the water filling: a 100 Mbit/s link with two
// 50 Mbit/s clients runs both at their rate (and is full); a third one, a
// 20 Mbit/s client, keeps its 20, and the two others share the 80 left. The downloads finish when their bytes are through.
func TestLinkSharing(t *testing.T) {
	l := newLink(100e6)
	k50, k20 := 4, 3 // clientMbps[4] = 50, [3] = 20
	mb := 1e6 / 8    // bytes in a megabit
	l.start(0, 100*mb, k50, false, true)
	l.start(0, 100*mb, k50, false, true)
	if !l.saturated() || l.rate[k50] != 50*mb {
		t.Fatalf("two 50 Mbit/s clients: rate %v Mbit/s, saturated %v", l.rate[k50]/mb, l.saturated())
	}
	l.start(1, 1000*mb, k20, false, true) // at t=1 each 50-client has 50 Mbit left
	if !l.saturated() || l.rate[k20] != 20*mb || l.rate[k50] != 40*mb {
		t.Fatalf("with a 20 Mbit/s client: rates %v and %v Mbit/s", l.rate[k50]/mb, l.rate[k20]/mb)
	}
	// The two 50-clients need 50 Mbit more at 40 Mbit/s: done at 2.25 s.
	if math.Abs(l.next-2.25) > 1e-9 {
		t.Errorf("next completion at %v; want 2.25", l.next)
	}
	l.complete(l.next)
	if l.active() != 2 || l.saturated() {
		t.Errorf("after one completion: %d active, saturated %v", l.active(), l.saturated())
	}
	l.complete(l.next)
	if l.active() != 1 || l.saturated() {
		t.Errorf("after two completions: %d active, saturated %v", l.active(), l.saturated())
	}
	// The 20-client got 20 Mbit/s all along: 1000 Mbit done at 51 s.
	if d := l.complete(l.next); math.Abs(l.last-51) > 1e-9 || d.start != 1 {
		t.Errorf("last completion at %v (started %v); want 51", l.last, d.start)
	}
	if math.Abs(l.sent-1200*mb) > 1 {
		t.Errorf("sent %v Mbit; want 1200", l.sent/mb)
	}
}

// TestHistogram reads quantiles within a bucket (6.25%) of the truth.
func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 10000; i++ {
		h.add(float64(i) / 100) // 0.01 … 100 s
	}
	for q, want := range map[float64]float64{0.5: 50, 0.95: 95, 0.01: 1} {
		if got := h.quantile(q); got < want || got > want*1.0625 {
			t.Errorf("quantile(%v) = %v; want %v (to 6.25%% above)", q, got, want)
		}
	}
}
