package stats

import (
	"cmp"
	"maps"
	"slices"
	"strings"
)

// PoolDay names one pool's figures of one day.
type PoolDay struct {
	Pool string
	Day  Day
}

// Counts are downloads of one pool and day counted and not written yet.
type Counts struct {
	Total uint64
	// Unkeyed are downloads counted without their file: it came when
	// Files already held the most distinct files a batch keeps.
	Unkeyed   uint64
	Mirrors   map[string]uint64
	Countries map[string]uint64
	Files     map[string]uint64
	// perMirror are the downloads a shard counted by mirror, not yet in
	// Mirrors: merge adds them there.
	perMirror mirrorCounts
}

func newCounts() *Counts {
	return &Counts{Mirrors: map[string]uint64{}, Countries: map[string]uint64{}, Files: map[string]uint64{}}
}

// reusedFiles is the most distinct files whose map an emptied Counts
// keeps: a burst of distinct paths (a scanner) does not hold its memory
// after the second it came in. Mirrors and countries are few.
const reusedFiles = 4096

// empty zeroes c, keeping its maps' room for the next counts.
func (c *Counts) empty() {
	c.Total, c.Unkeyed = 0, 0
	clear(c.Mirrors)
	c.perMirror.empty()
	clear(c.Countries)
	if len(c.Files) > reusedFiles {
		c.Files = map[string]uint64{}
	} else {
		clear(c.Files)
	}
}

// spares are emptied counts, handed out before new ones are made: a
// pool of 10,000 mirrors does not grow a map of them again every second.
type spares []*Counts

// take returns an emptied counts, or a new one.
func (sp *spares) take() *Counts {
	n := len(*sp)
	if n == 0 {
		return newCounts()
	}
	c := (*sp)[n-1]
	*sp = (*sp)[:n-1]
	return c
}

// give empties c and keeps it for take.
func (sp *spares) give(c *Counts) {
	c.empty()
	*sp = append(*sp, c)
}

// add counts one download; a file new to c past maxFiles distinct ones
// is counted unkeyed.
func (c *Counts) add(file, mirror, country string, maxFiles int) {
	c.Total++
	if !c.perMirror.add(mirror) {
		c.Mirrors[mirror]++
	}
	c.Countries[country]++
	if n, ok := c.Files[file]; ok || len(c.Files) < maxFiles {
		c.Files[file] = n + 1
	} else {
		c.Unkeyed++
	}
}

// merge adds src to c.
func (c *Counts) merge(src *Counts) {
	c.Total += src.Total
	c.Unkeyed += src.Unkeyed
	addTo(c.Mirrors, src.Mirrors)
	src.perMirror.addTo(c.Mirrors)
	addTo(c.Countries, src.Countries)
	addTo(c.Files, src.Files)
}

// addTo adds the counts of src to dst.
func addTo(dst, src map[string]uint64) {
	for k, n := range src {
		dst[k] += n
	}
}

// trim keeps the maxFiles files with the most downloads (see FileOrder)
// and counts the others unkeyed: a burst of distinct paths (a scanner)
// does not push the popular files out of a batch.
func (c *Counts) trim(maxFiles int) {
	if len(c.Files) <= maxFiles {
		return
	}
	for _, k := range c.FileOrder()[maxFiles:] {
		c.Unkeyed += c.Files[k]
		delete(c.Files, k)
	}
}

// FileOrder returns c's files with the most downloads first, then in
// byte order: the order a backend takes them in, so that when a day's
// exact files fill up, the popular files of a batch are in first, and
// every backend fills them alike.
func (c *Counts) FileOrder() []string {
	keys := slices.Collect(maps.Keys(c.Files))
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(c.Files[b], c.Files[a]), strings.Compare(a, b))
	})
	return keys
}

// Batch is the counts of several pools and days.
type Batch map[PoolDay]*Counts

// counts returns b's counts of pd, taken from sp on first use.
func (b Batch) counts(pd PoolDay, sp *spares) *Counts {
	c := b[pd]
	if c == nil {
		c = sp.take()
		b[pd] = c
	}
	return c
}

// merge adds src to b, its new counts taken from sp, and trims what it
// added to at most maxFiles files per pool and day.
func (b Batch) merge(src Batch, maxFiles int, sp *spares) {
	for pd, c := range src {
		bc := b.counts(pd, sp)
		bc.merge(c)
		bc.trim(maxFiles)
	}
}

// Downloads is the number of downloads in b.
func (b Batch) Downloads() uint64 {
	var n uint64
	for _, c := range b {
		n += c.Total
	}
	return n
}
