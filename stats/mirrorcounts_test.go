package stats

import (
	"fmt"
	"strings"
	"testing"
)

// TestMirrorCounts: downloads counted by the address of a mirror's name
// come out by name, through growth, with one name at several addresses
// summed, and past the bound of slots in the map; an emptied count starts
// from nothing.
func TestMirrorCounts(t *testing.T) {
	c := newCounts()
	names := make([]string, 5000)
	for i := range names {
		names[i] = fmt.Sprintf("m%d", i)
	}
	want := map[string]uint64{}
	for round := range 3 {
		for i, name := range names {
			for range 1 + i%3 + round {
				c.add("/f", name, "DE", 10)
				want[name]++
			}
		}
	}
	// The same name at another address (a reload's configuration).
	again := strings.Clone(names[7])
	c.add("/f", again, "DE", 10)
	want[again]++

	got := newCounts()
	got.merge(c)
	if len(got.Mirrors) != len(want) {
		t.Fatalf("%d mirrors counted; want %d", len(got.Mirrors), len(want))
	}
	for name, n := range want {
		if got.Mirrors[name] != n {
			t.Errorf("mirror %s: %d downloads; want %d", name, got.Mirrors[name], n)
		}
	}

	c.empty()
	c.add("/f", names[1], "DE", 10)
	after := newCounts()
	after.merge(c)
	if len(after.Mirrors) != 1 || after.Mirrors[names[1]] != 1 {
		t.Errorf("after empty: %v; want only %s once", after.Mirrors, names[1])
	}

	// Names made anew for every download fill the slots; the rest are
	// counted in the map, every one of them.
	c.empty()
	const downloads = 70000 // more than 3/4 of maxMirrorSlots
	for i := range downloads {
		c.add("/f", fmt.Sprint("m", i%10), "DE", 10)
	}
	if len(c.perMirror.slots) != maxMirrorSlots || len(c.Mirrors) == 0 {
		t.Errorf("%d slots, %d names in the map; want the slots full (%d) and the map used", len(c.perMirror.slots), len(c.Mirrors), maxMirrorSlots)
	}
	full := newCounts()
	full.merge(c)
	for i := range 10 {
		if n := full.Mirrors[fmt.Sprint("m", i)]; n != downloads/10 {
			t.Errorf("m%d: %d downloads; want %d", i, n, downloads/10)
		}
	}
}
