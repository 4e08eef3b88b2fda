package files

import (
	"hash/maphash"
	"strings"
	"sync/atomic"
	"unsafe"
)

// Index is an immutable table of a tree's files: path, size, modification
// time and, when hashed, SHA-256. It is built for a million files: paths
// are stored as a directory number and a base name in one byte slice, and
// looked up through an open-addressing table of file numbers, so a file
// costs its base name plus about 30 bytes, and a lookup allocates nothing.
// It is safe for concurrent use.
type Index struct {
	dirs  []string // directory paths, "" for the root
	dirOf []uint32 // per file: its directory
	names []byte   // base names, one after the other
	ends  []uint32 // per file: the end of its base name in names
	size  []int64
	mtime []int64
	sha   []byte   // 32 bytes per file, when hashed (nil: none is)
	has   []uint64 // bit per file: its sha is set
	slots []uint32 // file number + 1 per slot, 0 for empty; len a power of two
	seed  maphash.Seed
	// requires and required list, per apt release file, the origin files
	// it names (see release.go); nil when there is none.
	requires map[int][]int
	required map[int][]Required
	// carry remembers the numbering of an older Index's files in this one
	// (see carried): not part of what the Index says, a memo.
	carry atomic.Pointer[carryMemo]
}

// carryMemo is the number in an Index of each file of an older one.
type carryMemo struct {
	old *Index
	to  []int32
}

// carried returns, per file of old, its number in ix when ix has it with
// the same size and mtime, else -1. It is computed once per origin change
// (the last older Index asked is remembered), so that every mirror's
// holdings carry over by moving bits, not by looking up each path again.
func (ix *Index) carried(old *Index) []int32 {
	if m := ix.carry.Load(); m != nil && m.old == old {
		return m.to
	}
	to := make([]int32, old.Len())
	buf := make([]byte, 0, 256)
	for id := range old.Len() {
		buf = buf[:0]
		if dir := old.dirs[old.dirOf[id]]; dir != "" {
			buf = append(buf, dir...)
			buf = append(buf, '/')
		}
		buf = append(buf, old.base(id)...)
		to[id] = -1
		// The string is a view of buf, used only for the lookup.
		if n, ok := ix.Lookup(unsafe.String(unsafe.SliceData(buf), len(buf))); ok && ix.size[n] == old.size[id] && ix.mtime[n] == old.mtime[id] {
			to[id] = int32(n)
		}
	}
	ix.carry.Store(&carryMemo{old: old, to: to})
	return to
}

// Len returns the number of files.
func (ix *Index) Len() int { return len(ix.size) }

// Lookup returns the number of the file at path.
func (ix *Index) Lookup(path string) (int, bool) {
	if len(ix.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(ix.slots) - 1)
	for i := maphash.String(ix.seed, path) & mask; ; i = (i + 1) & mask {
		s := ix.slots[i]
		if s == 0 {
			return 0, false
		}
		if id := int(s - 1); ix.pathIs(id, path) {
			return id, true
		}
	}
}

// pathIs reports whether file id's path is p, without building it.
func (ix *Index) pathIs(id int, p string) bool {
	base := ix.base(id)
	dir := ix.dirs[ix.dirOf[id]]
	if dir == "" {
		return p == base
	}
	return len(p) == len(dir)+1+len(base) && p[len(dir)] == '/' &&
		strings.HasPrefix(p, dir) && p[len(dir)+1:] == base
}

// samePath reports whether files a and b have the same path.
func (ix *Index) samePath(a, b int) bool {
	return ix.dirOf[a] == ix.dirOf[b] && ix.base(a) == ix.base(b)
}

// base returns the base name of file id as a view of names, which is
// never modified once built: no copy.
func (ix *Index) base(id int) string {
	start := uint32(0)
	if id > 0 {
		start = ix.ends[id-1]
	}
	return unsafe.String(&ix.names[start], int(ix.ends[id]-start))
}

// Path returns the path of file id.
func (ix *Index) Path(id int) string {
	if dir := ix.dirs[ix.dirOf[id]]; dir != "" {
		return dir + "/" + ix.base(id)
	}
	return ix.base(id)
}

// Entry returns file id as an Entry.
func (ix *Index) Entry(id int) Entry {
	return Entry{Path: ix.Path(id), Size: ix.size[id], MTime: ix.mtime[id]}
}

// Is reports whether file id is e: same path, size and mtime. It does not
// allocate.
func (ix *Index) Is(id int, e Entry) bool {
	return id < len(ix.size) && ix.size[id] == e.Size && ix.mtime[id] == e.MTime && ix.pathIs(id, e.Path)
}

// Size returns the size of file id in bytes.
func (ix *Index) Size(id int) int64 { return ix.size[id] }

// MTime returns the modification time of file id in Unix seconds.
func (ix *Index) MTime(id int) int64 { return ix.mtime[id] }

// Version returns the copy of file id the origin has: its size and mtime.
func (ix *Index) Version(id int) Version { return Version{ix.size[id], ix.mtime[id]} }

// SHA256 returns the SHA-256 of file id, when it is known.
func (ix *Index) SHA256(id int) (sum [32]byte, ok bool) {
	if !ix.hashed(id) {
		return sum, false
	}
	copy(sum[:], ix.sha[32*id:32*id+32])
	return sum, true
}

// hashed reports whether the SHA-256 of file id is known.
func (ix *Index) hashed(id int) bool { return ix.has != nil && ix.has[id/64]&(1<<(id%64)) != 0 }

// Builder collects entries for an Index. A path added twice keeps its last
// entry. The zero value is ready to use; it is not safe for concurrent
// use.
type Builder struct {
	dirIDs map[string]uint32
	ix     Index
	sums   map[int][32]byte
}

// Add adds a file; sha, when not nil, is its SHA-256. The path must have
// passed CheckPath.
func (b *Builder) Add(e Entry, sha *[32]byte) {
	if b.dirIDs == nil {
		b.dirIDs = map[string]uint32{}
	}
	dir, base := "", e.Path
	if i := strings.LastIndexByte(e.Path, '/'); i >= 0 {
		dir, base = e.Path[:i], e.Path[i+1:]
	}
	d, ok := b.dirIDs[dir]
	if !ok {
		d = uint32(len(b.ix.dirs))
		b.dirIDs[dir] = d
		b.ix.dirs = append(b.ix.dirs, strings.Clone(dir))
	}
	ix := &b.ix
	ix.dirOf = append(ix.dirOf, d)
	ix.names = append(ix.names, base...)
	ix.ends = append(ix.ends, uint32(len(ix.names)))
	ix.size = append(ix.size, e.Size)
	ix.mtime = append(ix.mtime, e.MTime)
	if sha != nil {
		if b.sums == nil {
			b.sums = map[int][32]byte{}
		}
		b.sums[len(ix.size)-1] = *sha
	}
}

// Len returns the number of entries added so far.
func (b *Builder) Len() int { return len(b.ix.size) }

// Build returns the Index of what was added. The Builder must not be used
// afterwards.
func (b *Builder) Build() *Index {
	ix := &b.ix
	ix.seed = maphash.MakeSeed()
	n := len(ix.size)
	// Trim what append over-allocated: a million files must not carry a
	// quarter more than they need.
	ix.dirOf = clip(ix.dirOf)
	ix.names = clip(ix.names)
	ix.ends = clip(ix.ends)
	ix.size = clip(ix.size)
	ix.mtime = clip(ix.mtime)
	if len(b.sums) > 0 {
		ix.sha = make([]byte, 32*n)
		ix.has = make([]uint64, (n+63)/64)
		for id, s := range b.sums {
			copy(ix.sha[32*id:], s[:])
			ix.has[id/64] |= 1 << (id % 64)
		}
	}
	slots := 1
	for slots < n+n/2+1 { // load at most 2/3
		slots *= 2
	}
	ix.slots = make([]uint32, slots)
	mask := uint64(slots - 1)
	var h maphash.Hash
	h.SetSeed(ix.seed)
	for id := range n {
		// The hash of dir + "/" + base, written in pieces: no path built.
		h.Reset()
		if dir := ix.dirs[ix.dirOf[id]]; dir != "" {
			h.WriteString(dir)
			h.WriteByte('/')
		}
		h.WriteString(ix.base(id))
		for i := h.Sum64() & mask; ; i = (i + 1) & mask {
			s := ix.slots[i]
			if s == 0 {
				ix.slots[i] = uint32(id + 1)
				break
			}
			if ix.samePath(int(s-1), id) {
				ix.slots[i] = uint32(id + 1) // a repeated path: the last wins
				break
			}
		}
	}
	b.dirIDs, b.sums = nil, nil
	return ix
}

func clip[T any](s []T) []T { return append([]T(nil), s...) }
