package strategy

import (
	"fmt"
	"testing"
	"unsafe"
)

// TestMirrorLayout: what a redirect reads of its mirror (Index,
// Effective, Redirects, Name and URL) lies on one cache line, for every
// mirror of a pool of any size: one miss, not two, when the pick lands on
// a mirror out of the cache.
func TestMirrorLayout(t *testing.T) {
	var m Mirror
	hotEnd := unsafe.Offsetof(m.URL) + unsafe.Sizeof(m.URL)
	for _, off := range []uintptr{unsafe.Offsetof(m.Index), unsafe.Offsetof(m.Effective), unsafe.Offsetof(m.Redirects), unsafe.Offsetof(m.Name)} {
		if off >= hotEnd {
			t.Fatalf("a hot field at %d lies past URL", off)
		}
	}
	if unsafe.Sizeof(m)%64 != 0 {
		t.Fatalf("a Mirror is %d bytes, not a whole number of cache lines", unsafe.Sizeof(m))
	}
	for _, n := range []int{1, 2, 3, 10, 100, 127, 128, 129, 1000, 10000} {
		ms := make([]Mirror, n)
		for i := range ms {
			ms[i] = Mirror{Name: fmt.Sprintf("m%d", i), URL: fmt.Sprintf("http://m%d.example", i), Weight: 1, Effective: 1}
		}
		p := NewPool(PoolSpec{Name: "p", Strategy: &Random{}, Mirrors: ms})
		for i := range p.Mirrors {
			start := uintptr(unsafe.Pointer(&p.Mirrors[i]))
			if start/64 != (start+hotEnd-1)/64 {
				t.Fatalf("%d mirrors: mirror %d's hot fields [%#x, %#x) cross a cache line", n, i, start, start+hotEnd)
			}
		}
	}
}
