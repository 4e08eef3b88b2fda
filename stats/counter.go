package stats

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// Counter takes the downloads of the request path. A download locks one
// of its shards, drawn at random, for a few map increments: requests
// contend only when two draw the same shard at the same moment. The maps
// a take empties serve the next second's downloads: a pool of 10,000
// mirrors does not grow a map of them again every second.
type Counter struct {
	shards   []shard
	mask     uint32
	maxFiles atomic.Int64
}

type shard struct {
	mu    sync.Mutex
	batch Batch
	// last and lastPD are the counts the shard added to last: a burst
	// of one pool's downloads skips the batch's map.
	last   *Counts
	lastPD PoolDay
	// spare are the counts the last take emptied, for the next ones.
	spare spares
	_     [64]byte // one cache line per shard's lock
}

// NewCounter returns a Counter whose shards each keep at most
// shardFiles(maxFiles) distinct files of a pool and day between two
// takes; more are counted unkeyed.
func NewCounter(maxFiles int) *Counter {
	n := 1
	for n < runtime.GOMAXPROCS(0) {
		n *= 2
	}
	c := &Counter{shards: make([]shard, n), mask: uint32(n - 1)}
	c.setMaxFiles(maxFiles)
	for i := range c.shards {
		c.shards[i].batch = Batch{}
	}
	return c
}

// UnknownCountry is the country of a client the geo database does not
// place (or of every client, without one).
const UnknownCountry = "unknown"

// Add counts one download of file from mirror by a client in country
// ("" when unknown) in pool on day.
func (c *Counter) Add(pool string, day Day, file, mirror, country string) {
	if country == "" {
		country = UnknownCountry
	}
	s := &c.shards[rand.Uint32()&c.mask]
	s.mu.Lock()
	pd := PoolDay{pool, day}
	if s.last == nil || s.lastPD != pd {
		s.last, s.lastPD = s.batch.counts(pd, &s.spare), pd
	}
	s.last.add(file, mirror, country, int(c.maxFiles.Load()))
	s.mu.Unlock()
}

func (c *Counter) setMaxFiles(n int) { c.maxFiles.Store(int64(shardFiles(n))) }

// shardFiles is how many distinct files of a pool and day a shard keeps
// between two takes for a limit of maxFiles per batch: at least 16,384,
// so that a second's burst of distinct paths rarely takes a popular
// file's name away before take keeps the most downloaded ones. Its
// memory is bounded by the requests of a second, and by this.
func shardFiles(maxFiles int) int { return max(maxFiles, 1<<14) }

// take moves the downloads counted since the last take into dst, merged,
// with at most maxFiles distinct files per pool and day, its new counts
// taken from sp, and adds how many it moved to byPool (when not nil).
func (c *Counter) take(dst Batch, maxFiles int, sp *spares, byPool map[string]uint64) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		b := s.batch
		if len(b) == 0 {
			s.mu.Unlock()
			continue
		}
		s.batch, s.last = Batch{}, nil
		s.mu.Unlock()
		dst.merge(b, maxFiles, sp)
		// The counts b used are emptied for the shard's next ones;
		// spares it did not use this time are let go with their maps.
		var spare spares
		for pd, c := range b {
			if byPool != nil {
				byPool[pd.Pool] += c.Total
			}
			spare.give(c)
		}
		s.mu.Lock()
		s.spare = spare
		s.mu.Unlock()
	}
}

// totals adds the downloads not taken yet to by, by pool.
func (c *Counter) totals(by map[string]uint64) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for pd, n := range s.batch {
			by[pd.Pool] += n.Total
		}
		s.mu.Unlock()
	}
}
