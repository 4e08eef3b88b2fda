package stats

import "container/heap"

// spaceSaving is the Space-Saving summary (Metwally, Agrawal, El Abbadi,
// 2005) of at most cap files: a file it follows has its count raised by
// each download; a new file takes the place of the one with the least
// count c, starts from c and carries c as its error. Each count is then
// at most Err above the truth, Err ≤ stream / cap, and every file with
// more than stream / cap downloads is followed. Ties evict the file
// first in byte order, as Redis's ZRANGE 0 0 does in the Lua version.
type spaceSaving struct {
	cap     int
	entries ssHeap
	at      map[string]int // file → index in entries
}

type ssEntry struct {
	file       string
	count, err uint64
}

// ssHeap is a min-heap by (count, file), keeping at current.
type ssHeap struct {
	e  []ssEntry
	at map[string]int
}

func (h *ssHeap) Len() int { return len(h.e) }
func (h *ssHeap) Less(i, j int) bool {
	if h.e[i].count != h.e[j].count {
		return h.e[i].count < h.e[j].count
	}
	return h.e[i].file < h.e[j].file
}
func (h *ssHeap) Swap(i, j int) {
	h.e[i], h.e[j] = h.e[j], h.e[i]
	h.at[h.e[i].file], h.at[h.e[j].file] = i, j
}
func (h *ssHeap) Push(x any) {
	e := x.(ssEntry)
	h.at[e.file] = len(h.e)
	h.e = append(h.e, e)
}
func (h *ssHeap) Pop() any {
	e := h.e[len(h.e)-1]
	h.e = h.e[:len(h.e)-1]
	delete(h.at, e.file)
	return e
}

func newSpaceSaving(capacity int) *spaceSaving {
	at := map[string]int{}
	return &spaceSaving{cap: capacity, entries: ssHeap{at: at}, at: at}
}

// offer counts n downloads of file.
func (s *spaceSaving) offer(file string, n uint64) {
	h := &s.entries
	if i, ok := s.at[file]; ok {
		h.e[i].count += n
		heap.Fix(h, i)
		return
	}
	if h.Len() < s.cap {
		heap.Push(h, ssEntry{file: file, count: n})
		return
	}
	low := heap.Pop(h).(ssEntry)
	heap.Push(h, ssEntry{file: file, count: low.count + n, err: low.count})
}

// estimates returns the files followed.
func (s *spaceSaving) estimates() map[string]Estimate {
	out := make(map[string]Estimate, len(s.entries.e))
	for _, e := range s.entries.e {
		out[e.file] = Estimate{Count: e.count, Err: e.err}
	}
	return out
}
