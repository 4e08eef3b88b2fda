package files

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Verifier keeps mirrors without a listing honest: files that clients
// request are checked on the mirrors that should hold them with a HEAD,
// in the background, and a mirror that answers 404, redirects elsewhere,
// or gives another Content-Length than the origin's size is taken out for
// that file until a later check passes. Requests never wait for it: they
// hand the file over with Requested (dropped when the queue is full) and
// read the exclusions with Excluded, both without I/O or lock.
type Verifier struct {
	mirrors []verifyMirror
	client  *http.Client
	okTTL   time.Duration // a passed check is trusted this long
	badTTL  time.Duration // a failed one is tried again after this long
	log     *slog.Logger

	queue chan verifyJob
	// excluded is an immutable map from a path to the mask of mirrors
	// (bits as in View.Mirrors) that failed a check for it.
	excluded   atomic.Pointer[map[string][]uint64]
	generation atomic.Uint64 // changes of excluded
	shared     *sharedVerify // nil: this instance checks for itself
	checks     atomic.Uint64 // HEADs done
	dropped    atomic.Uint64 // requests not queued (queue full) or checks not started (too many)
	inflight   atomic.Int64  // checks started and not finished

	mu     sync.Mutex
	last   map[verifyKey]verifyResult
	active map[verifyKey]bool
}

type verifyMirror struct {
	name string
	url  string
	sem  chan struct{} // bounds the checks in flight on this mirror
}

type verifyKey struct {
	path   string
	mirror int
}

type verifyResult struct {
	ok bool
	at time.Time
}

type verifyJob struct {
	path string
	size int64
	mask []uint64 // the mirrors believed to hold it
}

// VerifierOptions configure NewVerifier.
type VerifierOptions struct {
	// Mirrors are the pool's mirrors, names and URLs, in View order.
	Mirrors []struct{ Name, URL string }
	// Timeout bounds one HEAD (default 5 s).
	Timeout time.Duration
	// OKTTL is how long a passed check is trusted (default 5 s): a mirror
	// that loses a file stops getting it about that long after the first
	// request that follows, plus one HEAD. A failed check is tried again
	// after twice as long.
	OKTTL time.Duration
	// PerMirror bounds the checks in flight on one mirror (default 4).
	PerMirror int
	Log       *slog.Logger
	// Leader reports whether this instance checks now (the feedback
	// lease); the others hand it the files requested of them through Share
	// and adopt the mirrors it takes out. Lookup gives the origin's size
	// of a path and the mirrors believed to hold it. All nil: every
	// instance checks for itself.
	Leader func(context.Context) bool
	Share  VerifyShare
	Lookup func(path string) (size int64, holders []uint64, ok bool)
}

// NewVerifier returns a Verifier; Run does the checks.
func NewVerifier(o VerifierOptions) *Verifier {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.OKTTL <= 0 {
		o.OKTTL = 5 * time.Second
	}
	if o.PerMirror <= 0 {
		o.PerMirror = 4
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	v := &Verifier{
		client: &http.Client{Timeout: o.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		okTTL: o.OKTTL, badTTL: 2 * o.OKTTL, log: o.Log,
		queue: make(chan verifyJob, 1024),
		last:  map[verifyKey]verifyResult{}, active: map[verifyKey]bool{},
	}
	for _, m := range o.Mirrors {
		v.mirrors = append(v.mirrors, verifyMirror{name: m.Name, url: strings.TrimSuffix(m.URL, "/"), sem: make(chan struct{}, o.PerMirror)})
	}
	if o.Share != nil && o.Leader != nil && o.Lookup != nil {
		v.shared = &sharedVerify{share: o.Share, leader: o.Leader, lookup: o.Lookup, pending: map[string]struct{}{}}
	}
	empty := map[string][]uint64{}
	v.excluded.Store(&empty)
	return v
}

// Requested hands over a requested file: its path, the origin's size and
// the mirrors believed to hold it. It never blocks: when the queue is
// full the request is dropped (and counted).
func (v *Verifier) Requested(path string, size int64, holders []uint64) {
	select {
	case v.queue <- verifyJob{path, size, holders}:
	default:
		v.dropped.Add(1)
	}
}

// Excluded returns the mirrors that failed a check for path (nil: none).
// The mask must not be modified.
func (v *Verifier) Excluded(path string) []uint64 {
	m := *v.excluded.Load()
	if len(m) == 0 {
		return nil
	}
	return m[path]
}

// Stats returns the HEADs done and the requests dropped.
func (v *Verifier) Stats() (checks, dropped uint64) { return v.checks.Load(), v.dropped.Load() }

// Run checks queued files until ctx ends; with a VerifyShare, only while
// this instance leads, and it hands them to the leader otherwise.
func (v *Verifier) Run(ctx context.Context) {
	if v.shared != nil {
		go v.syncShared(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-v.queue:
			if v.isLeading() {
				v.schedule(ctx, job)
			} else {
				v.deferToLeader(job.path)
			}
		}
	}
}

// schedule starts a check of job's file on every holder whose last result
// is stale and that is not being checked now.
func (v *Verifier) schedule(ctx context.Context, job verifyJob) {
	now := time.Now()
	excl := v.Excluded(job.path)
	for i := range v.mirrors {
		held := i/64 < len(job.mask) && job.mask[i/64]>>(i%64)&1 == 1
		out := i/64 < len(excl) && excl[i/64]>>(i%64)&1 == 1
		if !held && !out {
			continue
		}
		k := verifyKey{job.path, i}
		v.mu.Lock()
		r, seen := v.last[k]
		ttl := v.okTTL
		if seen && !r.ok {
			ttl = v.badTTL
		}
		if v.active[k] || seen && now.Sub(r.at) < ttl {
			v.mu.Unlock()
			continue
		}
		if v.inflight.Load() >= maxVerifyInflight {
			v.mu.Unlock()
			v.dropped.Add(1) // the next request for it tries again
			continue
		}
		v.inflight.Add(1)
		v.active[k] = true
		if len(v.last) > maxVerifyResults {
			v.prune(now)
		}
		v.mu.Unlock()
		go v.check(ctx, k, job.size)
	}
}

// maxVerifyInflight bounds the checks started and not finished, over all
// mirrors (each mirror has its own, smaller bound on those in flight).
const maxVerifyInflight = 256

// maxVerifyResults bounds the remembered results; older ones are dropped
// past it (a dropped failure stays excluded until a check passes).
const maxVerifyResults = 100_000

// prune drops results older than a failed check's retry. Callers hold v.mu.
func (v *Verifier) prune(now time.Time) {
	for k, r := range v.last {
		if now.Sub(r.at) > v.badTTL {
			delete(v.last, k)
		}
	}
}

// check HEADs one file on one mirror and records the result.
func (v *Verifier) check(ctx context.Context, k verifyKey, size int64) {
	m := &v.mirrors[k.mirror]
	m.sem <- struct{}{}
	ok, why := v.head(ctx, m.url+"/"+escapeURLPath(k.path), size)
	<-m.sem
	v.inflight.Add(-1)
	v.checks.Add(1)
	v.mu.Lock()
	delete(v.active, k)
	prev, seen := v.last[k]
	v.last[k] = verifyResult{ok: ok, at: time.Now()}
	v.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	if !seen || prev.ok != ok {
		if !ok {
			v.log.Warn("mirror fails a file check; taken out for that file", "mirror", m.name, "path", k.path, "err", why)
		} else if seen {
			v.log.Info("mirror passes a file check again", "mirror", m.name, "path", k.path)
		}
		v.setExcluded(k, !ok)
	}
}

// head reports whether url answers a HEAD with 200 and Content-Length
// size, and why not.
func (v *Verifier) head(ctx context.Context, u string, size int64) (bool, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("User-Agent", "dispatcher-file-check")
	resp, err := v.client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return false, "redirects to " + resp.Header.Get("Location")
	case resp.StatusCode != http.StatusOK:
		return false, resp.Status
	case resp.ContentLength >= 0 && resp.ContentLength != size:
		return false, "Content-Length " + strconv.FormatInt(resp.ContentLength, 10) + ", want " + strconv.FormatInt(size, 10)
	}
	return true, ""
}

// setExcluded publishes a new exclusion map with k's mirror in or out.
func (v *Verifier) setExcluded(k verifyKey, out bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	old := *v.excluded.Load()
	next := make(map[string][]uint64, len(old)+1)
	for p, m := range old {
		next[p] = m
	}
	words := (len(v.mirrors) + 63) / 64
	mask := make([]uint64, words)
	copy(mask, next[k.path])
	if out {
		mask[k.mirror/64] |= 1 << (k.mirror % 64)
	} else {
		mask[k.mirror/64] &^= 1 << (k.mirror % 64)
	}
	empty := true
	for _, w := range mask {
		empty = empty && w == 0
	}
	if empty {
		delete(next, k.path)
	} else {
		next[k.path] = mask
	}
	v.excluded.Store(&next)
	v.generation.Add(1)
}

// escapeURLPath escapes a slash path for a URL.
func escapeURLPath(p string) string { return (&url.URL{Path: p}).EscapedPath() }
