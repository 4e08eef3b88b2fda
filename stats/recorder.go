package stats

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// FlushEvery is how often a Recorder writes what it counted.
const FlushEvery = time.Second

// Recorder counts downloads and writes them to its backend.
//
// A batch that fails to be written is held and written again, under the
// same id, until it is: the backend applies it once even when an earlier
// try did reach it. Downloads counted meanwhile wait in a second batch,
// which takes no part in a write until the first is through, so holding
// costs at most two batches, each bounded by Limits.Files files per pool
// and day. Nothing counted is lost while the process runs; files beyond
// that bound are counted unkeyed (their downloads stay in every total).
// What is held when the process stops without reaching the backend is
// lost, and logged.
type Recorder struct {
	Counter *Counter
	backend Backend
	lim     atomic.Pointer[Limits]
	log     *slog.Logger
	id      string

	mu     sync.Mutex // one flush at a time
	seq    uint64
	head   Batch // tried, not known to be written
	headID string
	tail   Batch  // counted since, not tried
	spare  spares // written counts, emptied for the next tail

	state   sync.Mutex
	counted map[string]uint64 // pool → downloads taken from the counter
	written atomic.Uint64
	unkeyed atomic.Uint64
	held    atomic.Uint64
	errors  atomic.Uint64
	lastErr atomic.Pointer[string]
}

// NewRecorder returns a Recorder writing to backend.
func NewRecorder(backend Backend, lim Limits, log *slog.Logger) *Recorder {
	var id [8]byte
	rand.Read(id[:]) //nolint:errcheck // crypto/rand does not fail
	r := &Recorder{Counter: NewCounter(lim.Files), backend: backend, log: log, id: hex.EncodeToString(id[:]),
		head: Batch{}, tail: Batch{}, counted: map[string]uint64{}}
	r.lim.Store(&lim)
	return r
}

// SetLimits changes the limits (a reload).
func (r *Recorder) SetLimits(lim Limits) {
	r.lim.Store(&lim)
	r.Counter.setMaxFiles(lim.Files)
}

// Limits returns the limits in force.
func (r *Recorder) Limits() Limits { return *r.lim.Load() }

// Backend returns where the figures are kept.
func (r *Recorder) Backend() Backend { return r.backend }

// Run flushes every FlushEvery until ctx ends, then once more within
// final.
func (r *Recorder) Run(ctx context.Context, final time.Duration) {
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), final)
			defer cancel()
			if err := r.Flush(fctx); err != nil {
				r.log.Error("download statistics lost at stop: the backend did not answer", "downloads", r.Held(), "err", err.Error())
			}
			return
		case <-t.C:
			r.Flush(ctx) //nolint:errcheck // Flush logs and keeps what it could not write
		}
	}
}

// Flush writes what was counted: the held batch first, then what came
// since. On error what is not written stays held.
func (r *Recorder) Flush(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	lim := r.Limits()
	// Under state, so that Counted sees each download once: in the
	// counter or in counted.
	r.state.Lock()
	r.Counter.take(r.tail, lim.Files, &r.spare, r.counted)
	r.state.Unlock()
	defer func() { r.held.Store(r.head.Downloads() + r.tail.Downloads()) }()
	for range 2 { // the held batch, then the one counted since
		if len(r.head) == 0 {
			if len(r.tail) == 0 {
				return nil
			}
			r.seq++
			r.head, r.tail, r.headID = r.tail, Batch{}, r.id+"-"+strconv.FormatUint(r.seq, 10)
		}
		for _, pd := range slices.SortedFunc(maps.Keys(r.head), comparePoolDays) {
			c := r.head[pd]
			if err := r.backend.Write(ctx, pd, c, r.headID, lim); err != nil {
				r.errors.Add(1)
				msg := err.Error()
				if old := r.lastErr.Swap(&msg); old == nil {
					r.log.Warn("download statistics held: the backend did not take them; they are written when it does", "err", msg)
				}
				return err
			}
			delete(r.head, pd)
			r.written.Add(c.Total)
			r.unkeyed.Add(c.Unkeyed)
			r.spare.give(c)
		}
		if r.lastErr.Swap(nil) != nil {
			r.log.Info("download statistics written again: the held ones are in")
		}
	}
	return nil
}

func comparePoolDays(a, b PoolDay) int {
	if a.Pool != b.Pool {
		if a.Pool < b.Pool {
			return -1
		}
		return 1
	}
	return int(a.Day) - int(b.Day)
}

// Counted returns the downloads counted so far, by pool: taken by a
// flush or still in the counter.
func (r *Recorder) Counted() map[string]uint64 {
	r.state.Lock()
	defer r.state.Unlock()
	out := maps.Clone(r.counted)
	r.Counter.totals(out)
	return out
}

// Written is the downloads written to the backend.
func (r *Recorder) Written() uint64 { return r.written.Load() }

// Unkeyed is the downloads written without their file.
func (r *Recorder) Unkeyed() uint64 { return r.unkeyed.Load() }

// Held is the downloads waiting for the backend, as of the last flush.
func (r *Recorder) Held() uint64 { return r.held.Load() }

// Errors is the failed writes.
func (r *Recorder) Errors() uint64 { return r.errors.Load() }

// LastError is the error of the last write when it failed, else "".
func (r *Recorder) LastError() string {
	if p := r.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}
