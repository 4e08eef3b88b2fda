package verify

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dispatcher/dispatcher/files"
	"github.com/dispatcher/dispatcher/internal/bitmask"
)

// Verifier keeps mirrors honest between listings, and mirrors without a
// listing at all: files that clients request are checked on the mirrors
// that should or might hold them with a HEAD, in the background, judged
// as a listing is judged (200, Content-Length equal to the origin's size,
// Last-Modified no older than the origin's mtime). A pass counts for the
// origin's copy it was checked against only; a failure takes the mirror
// out for that file until a later check passes. Requests never wait for
// it: they hand the file over with Requested (dropped when the queue is
// full) and read the verdicts with Verdict, both without I/O or lock.
type Verifier struct {
	mirrors []verifyMirror
	client  *http.Client
	okTTL   time.Duration // a passed check is trusted this long
	badTTL  time.Duration // a failed one is tried again after this long
	log     *slog.Logger

	queue      chan files.Check
	verdicts   verdictMap
	generation atomic.Uint64 // changes of verdicts
	shared     *sharedVerify // nil: this instance checks for itself
	checks     atomic.Uint64 // HEADs done
	dropped    atomic.Uint64 // requests not queued (queue full) or checks not started (too many)
	inflight   atomic.Int64  // checks started and not finished

	mu     sync.Mutex // serialises verdict writes; guards last and active
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
	ok      bool
	at      time.Time
	version files.Version // of the origin's copy checked against
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
	// after twice as long. A change of the origin's copy ends the trust
	// at once.
	OKTTL time.Duration
	// PerMirror bounds the checks in flight on one mirror (default 4).
	PerMirror int
	Log       *slog.Logger
	// Leader reports whether this instance checks now (the feedback
	// lease); the others hand it the files requested of them through Share
	// and adopt its verdicts. Lookup gives what a check of a path needs,
	// from the current View. All nil: every instance checks for itself.
	Leader func(context.Context) bool
	Share  VerifyShare
	Lookup func(path string) (files.Check, bool)
	// Seed is the Verifier this one replaces (a reload): its verdicts and
	// results carry over for the mirrors whose URL did not change; a
	// mirror at a new URL is checked afresh.
	Seed *Verifier
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
		queue: make(chan files.Check, 1024),
		last:  map[verifyKey]verifyResult{}, active: map[verifyKey]bool{},
	}
	for _, m := range o.Mirrors {
		v.mirrors = append(v.mirrors, verifyMirror{name: m.Name, url: strings.TrimSuffix(m.URL, "/"), sem: make(chan struct{}, o.PerMirror)})
	}
	if o.Share != nil && o.Leader != nil && o.Lookup != nil {
		v.shared = &sharedVerify{share: o.Share, leader: o.Leader, lookup: o.Lookup, pending: map[string]struct{}{}}
	}
	if o.Seed != nil {
		v.seed(o.Seed)
	}
	return v
}

// seed carries over old's verdicts and results for the mirrors whose URL
// is the same here.
func (v *Verifier) seed(old *Verifier) {
	byURL := map[string]int{}
	for i, m := range v.mirrors {
		byURL[m.url] = i
	}
	to := make([]int, len(old.mirrors)) // old index → new, -1: gone or moved
	for i, m := range old.mirrors {
		to[i] = -1
		if j, ok := byURL[m.url]; ok {
			to[i] = j
		}
	}
	words := (len(v.mirrors) + 63) / 64
	remap := func(mask []uint64) []uint64 {
		out := make([]uint64, words)
		for i, j := range to {
			if j >= 0 && bitmask.Word(mask, i/64)>>(i%64)&1 == 1 {
				out[j/64] |= 1 << (j % 64)
			}
		}
		return out
	}
	all := map[string]*Verdict{}
	old.verdicts.each(func(path string, d *Verdict) {
		n := &Verdict{Version: d.Version, Passed: remap(d.Passed), Failed: remap(d.Failed)}
		if !bitmask.IsZero(n.Passed) || !bitmask.IsZero(n.Failed) {
			all[path] = n
		}
	})
	old.mu.Lock()
	for k, r := range old.last {
		if j := to[k.mirror]; j >= 0 {
			v.last[verifyKey{k.path, j}] = r
		}
	}
	old.mu.Unlock()
	v.mu.Lock()
	v.verdicts.replace(all)
	v.mu.Unlock()
}

// Requested hands over a requested file. It never blocks: when the queue
// is full the request is dropped (and counted).
func (v *Verifier) Requested(c files.Check) {
	select {
	case v.queue <- c:
	default:
		v.dropped.Add(1)
	}
}

// Verdict returns what the checks found of path (nil: nothing). It must
// not be modified.
func (v *Verifier) Verdict(path string) *Verdict { return v.verdicts.get(path) }

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
				v.deferToLeader(job.Path)
			}
		}
	}
}

// schedule starts a check of c's file on every mirror that holds or
// might hold it, or failed its last check of it, unless its last result
// is for the same copy of the file and fresh, or it is being checked now.
func (v *Verifier) schedule(ctx context.Context, c files.Check) {
	now := time.Now()
	d := v.Verdict(c.Path)
	for i := range v.mirrors {
		w, bit := i/64, uint64(1)<<(i%64)
		if (bitmask.Word(c.Holders, w)|bitmask.Word(c.Unsure, w))&bit == 0 && !d.fails(i) {
			continue
		}
		k := verifyKey{c.Path, i}
		v.mu.Lock()
		r, seen := v.last[k]
		ttl := v.okTTL
		if seen && !r.ok {
			ttl = v.badTTL
		}
		if v.active[k] || seen && r.version == c.Version && now.Sub(r.at) < ttl {
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
		go v.check(ctx, k, c.Version, c.Requires)
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

// check HEADs one file on one mirror, and for a release file the files
// it names, and records the result.
func (v *Verifier) check(ctx context.Context, k verifyKey, version files.Version, requires []files.Required) {
	m := &v.mirrors[k.mirror]
	m.sem <- struct{}{}
	ok, why := v.head(ctx, m.url+"/"+escapeURLPath(k.path), version)
	for i := 0; ok && i < len(requires) && ctx.Err() == nil; i++ {
		r := &requires[i]
		if ok, why = v.head(ctx, m.url+"/"+escapeURLPath(r.Path), r.Version); !ok {
			why = "it names " + r.Path + ", which fails: " + why
		}
	}
	<-m.sem
	v.inflight.Add(-1)
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.active, k)
	v.last[k] = verifyResult{ok: ok, at: time.Now(), version: version}
	if ctx.Err() != nil {
		return
	}
	old := v.verdicts.get(k.path)
	d := old.with(k.mirror, version, ok, (len(v.mirrors)+63)/64)
	if old.same(d) {
		return
	}
	v.verdicts.set(k.path, d)
	v.generation.Add(1)
	switch {
	case !ok && !old.fails(k.mirror):
		v.log.Warn("mirror fails a file check; taken out for that file", "mirror", m.name, "path", k.path, "err", why)
	case ok && old.fails(k.mirror):
		v.log.Info("mirror passes a file check again", "mirror", m.name, "path", k.path)
	}
}

// head reports whether url answers a HEAD as a mirror holding the
// origin's copy version does, and why not: 200, Content-Length the
// origin's size, Last-Modified no older than the origin's mtime.
func (v *Verifier) head(ctx context.Context, u string, version files.Version) (bool, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("User-Agent", "dispatcher-file-check")
	v.checks.Add(1)
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
	case resp.ContentLength < 0:
		return false, "no Content-Length"
	case resp.ContentLength != version.Size:
		return false, "Content-Length " + strconv.FormatInt(resp.ContentLength, 10) + ", want " + strconv.FormatInt(version.Size, 10)
	}
	lm := resp.Header.Get("Last-Modified")
	if lm == "" {
		return false, "no Last-Modified: the copy's age cannot be told"
	}
	t, err := http.ParseTime(lm)
	switch {
	case err != nil:
		return false, "Last-Modified " + strconv.Quote(lm) + " does not parse"
	case t.Unix() < version.MTime:
		return false, "Last-Modified " + t.UTC().Format(time.RFC3339) + ", older than the origin's " + time.Unix(version.MTime, 0).UTC().Format(time.RFC3339)
	}
	return true, ""
}

// same reports whether d and o say the same.
func (d *Verdict) same(o *Verdict) bool {
	if d == nil || o == nil {
		return d == o
	}
	return d.Version == o.Version && slices.Equal(d.Passed, o.Passed) && slices.Equal(d.Failed, o.Failed)
}

// escapeURLPath escapes a slash path for a URL.
func escapeURLPath(p string) string { return (&url.URL{Path: p}).EscapedPath() }
