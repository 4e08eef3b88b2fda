package stats

import "unsafe"

// mirrorCounts counts a shard's downloads by mirror, ahead of
// Counts.Mirrors. It is keyed by the address of the name's bytes, which
// every download to one mirror of one configuration shares (each build of
// a pool copies the name, not its bytes): a download reads one slot, one
// cache line, where a map hashes the name and reads a control word and a
// slot apart, in a pool of 10,000 mirrors each a cache miss. Names at one
// address are one name; one name at two addresses (a reload's) takes two
// slots, and addTo sums them by name.
type mirrorCounts struct {
	slots []mirrorSlot // a power of two of them, at most 3/4 used
	used  int
	shift uint // 64 - log2(len(slots))
}

type mirrorSlot struct {
	name string
	n    uint64 // 0: the slot is free
	_    uint64 // 32 bytes: no slot straddles two cache lines
}

// maxMirrorSlots bounds the slots (2 MiB): a caller that names its
// mirrors with new strings every time fills them, and its further names
// go to the map.
const maxMirrorSlots = 1 << 16

// add counts one download to mirror, or reports that the slots are full.
func (t *mirrorCounts) add(mirror string) bool {
	if 4*(t.used+1) > 3*len(t.slots) {
		if len(t.slots) == maxMirrorSlots {
			return false
		}
		t.grow()
	}
	t.slot(mirror).n++
	return true
}

// slot returns mirror's slot, taken (its n still 0) when it is new.
func (t *mirrorCounts) slot(mirror string) *mirrorSlot {
	p := unsafe.StringData(mirror)
	mask := len(t.slots) - 1
	// Fibonacci hashing of the address: its high bits pick the slot.
	for i := int(uint64(uintptr(unsafe.Pointer(p))) * 0x9e3779b97f4a7c15 >> t.shift); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.n == 0 {
			s.name = mirror
			t.used++
			return s
		}
		if unsafe.StringData(s.name) == p && len(s.name) == len(mirror) {
			return s
		}
	}
}

// grow doubles the slots (to 64 at first) and places the counts again.
func (t *mirrorCounts) grow() {
	old := t.slots
	size := max(2*len(old), 64)
	t.slots, t.used, t.shift = make([]mirrorSlot, size), 0, 64
	for n := size; n > 1; n >>= 1 {
		t.shift--
	}
	for i := range old {
		if o := &old[i]; o.n > 0 {
			t.slot(o.name).n = o.n
		}
	}
}

// addTo adds the counts to dst, by name.
func (t *mirrorCounts) addTo(dst map[string]uint64) {
	if t.used == 0 {
		return
	}
	for i := range t.slots {
		if s := &t.slots[i]; s.n > 0 {
			dst[s.name] += s.n
		}
	}
}

// empty forgets the counts and their names, keeping the slots.
func (t *mirrorCounts) empty() {
	if t.used > 0 {
		clear(t.slots)
		t.used = 0
	}
}
