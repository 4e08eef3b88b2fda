package files

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HTTPIndex is a mirror's tree listed over HTTP: its directory index
// pages (autoindex) walked from the root, for a mirror without rsync.
//
// What a page says is judged against the origin (ListFor): a size in
// bytes and a time to the second in UTC (nginx's JSON and XML formats)
// are taken as they are; a size rounded to a unit ("1.2M") or a time from
// an HTML page (a minute's precision, in a zone the page does not say) is
// taken where it decides alone — a size far from the origin's, a time a
// day older or newer — and a HEAD of the file answers where it does not.
// A HEAD's answer is kept, and used again while the page shows the file
// the same. Requests go one at a time, at most Rate a second.
type HTTPIndex struct {
	// URL is the tree's root (the mirror's URL).
	URL string
	// Rate is the most requests a second (0: DefaultHTTPIndexRate).
	Rate float64
	// Client makes the requests (nil: one with a 30 s timeout per
	// request).
	Client *http.Client

	mu    sync.Mutex
	heads map[string]headResult // path → the last HEAD, and what the page said then
	votes map[int64]int         // the pages' zone offset → HEADs that say so
	stats HTTPIndexStats
}

// DefaultHTTPIndexRate is the requests a second an HTTPIndex makes to one
// mirror unless told otherwise.
const DefaultHTTPIndexRate = 10

// maxIndexDepth bounds how deep a walk goes (a loop of links ends there).
const maxIndexDepth = 32

// headResult is a HEAD's answer, and the page's line it was made for.
type headResult struct {
	raw   string
	size  int64
	mtime int64 // 0: no Last-Modified
}

// HTTPIndexStats counts what the last listing cost the mirror.
type HTTPIndexStats struct {
	Pages, Heads, HeadsReused int
	Bytes                     int64
}

// zoneSlack is how far an HTML page's time may be from UTC: the page
// does not say its zone, and zones go from UTC−12 to UTC+14.
const zoneSlack = 14 * 3600

// List implements Source, without an origin to judge against: every
// entry as its page gives it (rounded sizes and HTML times as written).
func (x *HTTPIndex) List(ctx context.Context, fn func(Entry) error, bad func(error)) error {
	return x.ListFor(ctx, nil, fn, bad)
}

// ListFor implements OriginSource: it lists the tree, and makes each file
// of ix that the page leaves unsure exact with a HEAD.
func (x *HTTPIndex) ListFor(ctx context.Context, ix *Index, fn func(Entry) error, bad func(error)) error {
	root, err := url.Parse(strings.TrimSuffix(x.URL, "/") + "/")
	if err != nil || (root.Scheme != "http" && root.Scheme != "https") {
		return fmt.Errorf("%s: not an http(s) URL", x)
	}
	client := x.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	rate := x.Rate
	if rate <= 0 {
		rate = DefaultHTTPIndexRate
	}
	w := &indexWalk{x: x, ix: ix, client: client, every: time.Duration(float64(time.Second) / rate), fn: fn, bad: bad}
	x.mu.Lock()
	if x.heads == nil {
		x.heads = map[string]headResult{}
	}
	w.oldHeads, x.heads = x.heads, map[string]headResult{}
	x.mu.Unlock()
	err = w.dir(ctx, root, "", 0)
	x.mu.Lock()
	x.stats = w.stats
	if err != nil {
		x.heads = w.oldHeads // a failed walk keeps what was known
	}
	x.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", x, err)
	}
	return nil
}

// carryHTTPIndexes hands what the HTTP indexes of old mirrors learned
// (their HEADs, their pages' zone) to the new mirrors' indexes of the same
// URL: a reload does not ask a mirror its HEADs again.
func carryHTTPIndexes(old, cur []ScanMirror) {
	byURL := map[string]*HTTPIndex{}
	for _, m := range old {
		if x, ok := m.Source.(*HTTPIndex); ok {
			byURL[x.URL] = x
		}
	}
	for _, m := range cur {
		if x, ok := m.Source.(*HTTPIndex); ok && byURL[x.URL] != nil && byURL[x.URL] != x {
			x.carry(byURL[x.URL])
		}
	}
}

// carry takes old's HEADs and zone votes.
func (x *HTTPIndex) carry(old *HTTPIndex) {
	old.mu.Lock()
	heads, votes := maps.Clone(old.heads), maps.Clone(old.votes)
	old.mu.Unlock()
	x.mu.Lock()
	x.heads, x.votes = heads, votes
	x.mu.Unlock()
}

// Stats returns what the last listing cost.
func (x *HTTPIndex) Stats() HTTPIndexStats {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.stats
}

func (x *HTTPIndex) String() string { return x.URL }

// indexWalk is one listing of an HTTPIndex.
type indexWalk struct {
	x        *HTTPIndex
	ix       *Index
	client   *http.Client
	every    time.Duration
	next     time.Time // the earliest time of the next request
	fn       func(Entry) error
	bad      func(error)
	oldHeads map[string]headResult
	stats    HTTPIndexStats
}

// wait keeps the requests at most one every w.every.
func (w *indexWalk) wait(ctx context.Context) error {
	if d := time.Until(w.next); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	w.next = time.Now().Add(w.every)
	return nil
}

// maxIndexPage bounds the bytes read of one index page.
const maxIndexPage = 64 << 20

// dir lists the directory at u (prefix is its path in the tree, "" or
// ending in "/"). The root's failure fails the listing; a subdirectory's
// is reported as partial, its files missing.
func (w *indexWalk) dir(ctx context.Context, u *url.URL, prefix string, depth int) error {
	items, err := w.page(ctx, u)
	if err != nil {
		if prefix == "" || ctx.Err() != nil {
			return err
		}
		w.bad(fmt.Errorf("%w: %s: %v", ErrPartialListing, prefix, err))
		return nil
	}
	for _, it := range items {
		p := prefix + it.name
		if CheckPath(p) != nil {
			w.bad(fmt.Errorf("%s: %w", p, ErrBadPath))
			continue
		}
		if it.dir {
			if depth+1 >= maxIndexDepth {
				w.bad(fmt.Errorf("%w: %s: deeper than %d directories", ErrPartialListing, p, maxIndexDepth))
				continue
			}
			sub := u.JoinPath(it.name)
			sub.Path += "/"
			if err := w.dir(ctx, sub, p+"/", depth+1); err != nil {
				return err
			}
			continue
		}
		e, ok, err := w.judge(ctx, u.JoinPath(it.name), p, it)
		if err != nil {
			return err
		}
		if ok {
			if err := w.fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// page fetches and parses one index page.
func (w *indexWalk) page(ctx context.Context, u *url.URL) ([]indexItem, error) {
	if err := w.wait(ctx); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json;q=0.9, text/html, application/xml;q=0.8")
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	w.stats.Pages++
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u.Path, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIndexPage+1))
	w.stats.Bytes += int64(len(body))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u.Path, err)
	}
	if len(body) > maxIndexPage {
		return nil, fmt.Errorf("GET %s: an index page of more than %d bytes", u.Path, maxIndexPage)
	}
	items, err := parseIndexPage(body, resp.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u.Path, err)
	}
	return items, nil
}

// judge returns the Entry of file p as the page gives it, made exact with
// a HEAD where the origin's copy (in w.ix) makes the judgement depend on
// what the page leaves unsure. ok is false for a file to leave out (not
// in the origin, or gone at the HEAD).
func (w *indexWalk) judge(ctx context.Context, u *url.URL, p string, it indexItem) (Entry, bool, error) {
	e := Entry{Path: p, Size: it.size, MTime: it.mtime}
	if w.ix == nil {
		return e, true, nil
	}
	id, known := w.ix.Lookup(p)
	if !known {
		return e, false, nil // Judge ignores it anyway: no request
	}
	size, mtime := w.ix.Size(id), w.ix.MTime(id)
	switch {
	case it.size >= 0 && it.sizeUnit == 1 && it.size != size:
		return e, true, nil // another size: outdated whatever its time
	case it.size >= 0 && it.sizeUnit > 1 && !roughlyEqual(it.size, size, it.sizeUnit):
		return e, true, nil // far from the origin's size
	case it.size >= 0 && it.sizeUnit == 1: // the origin's size: the time decides
		if t, sure := w.pageTime(it, mtime); sure {
			return Entry{Path: p, Size: it.size, MTime: t}, true, nil
		}
	}
	h, ok := w.oldHeads[p]
	if ok && h.raw == it.raw && it.raw != "" {
		w.stats.HeadsReused++
	} else {
		var err error
		if h, ok, err = w.head(ctx, u); err != nil || !ok {
			return e, false, err
		}
		h.raw = it.raw
		if h.mtime != 0 && it.mtime != 0 && !it.exactTime {
			w.x.learnZone(it.mtime - h.mtime)
		}
	}
	w.x.mu.Lock()
	w.x.heads[p] = h
	w.x.mu.Unlock()
	e.Size = h.size
	switch t, _ := w.pageTime(it, mtime); {
	case h.mtime != 0:
		e.MTime = h.mtime
	case it.mtime != 0:
		e.MTime = t // no Last-Modified: the page's time
	default:
		e.MTime = mtime // nothing says when: judged by its size
	}
	return e, true, nil
}

// pageTime returns the time to judge a file by from its page's time, and
// whether it decides against the origin's mtime. An exact time (JSON,
// XML) decides. An HTML time is in the server's zone, learned from HEADs
// (learnZone): once it is known the time decides, with the page's
// precision in the file's favour (a copy changed within the same minute
// with the same size is taken as current: the page cannot tell). Before,
// it decides only a day away from the origin's; else the HEAD does, and
// t is the latest the file can be.
func (w *indexWalk) pageTime(it indexItem, mtime int64) (t int64, sure bool) {
	switch {
	case it.mtime == 0:
		return 0, false
	case it.exactTime:
		return it.mtime, true
	}
	prec := int64(60)
	if it.seconds {
		prec = 1
	}
	if zone, ok := w.x.zone(); ok {
		return it.mtime - zone + prec - 1, true
	}
	switch {
	case it.mtime-zoneSlack >= mtime:
		return it.mtime - zoneSlack, true // newer in any zone
	case it.mtime+zoneSlack+prec <= mtime:
		return it.mtime + zoneSlack + prec - 1, true // older in any zone
	}
	return it.mtime + zoneSlack + prec - 1, false
}

// zoneVotes is how many HEADs must agree on an index's zone.
const zoneVotes = 3

// learnZone counts a HEAD's word on the zone of the index pages' times:
// diff is the page's time less Last-Modified, rounded to a quarter hour.
func (x *HTTPIndex) learnZone(diff int64) {
	if diff < -zoneSlack-3600 || diff > zoneSlack+3600 {
		return
	}
	q := (diff + 450) / 900 * 900
	if diff+450 < 0 {
		q = -((-diff + 450) / 900 * 900)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.votes == nil {
		x.votes = map[int64]int{}
	}
	x.votes[q]++
}

// zone returns the zone offset of the index pages' times (their time less
// UTC), once zoneVotes HEADs say so and nine in ten of all do (a file
// changed between its page and its HEAD says something else).
func (x *HTTPIndex) zone() (int64, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var best int64
	most, total := 0, 0
	for q, n := range x.votes {
		total += n
		if n > most {
			best, most = q, n
		}
	}
	return best, most >= zoneVotes && most*10 >= total*9
}

// roughlyEqual reports whether a size rounded to unit may be exact: within
// a unit, or 5% (a page that counts in powers of ten).
func roughlyEqual(rounded, exact, unit int64) bool {
	d := rounded - exact
	if d < 0 {
		d = -d
	}
	return d <= unit || d*20 <= exact
}

// head asks for a file's size and time. ok is false for a file that is
// not there (404, 410): it counts as missing.
func (w *indexWalk) head(ctx context.Context, u *url.URL) (headResult, bool, error) {
	if err := w.wait(ctx); err != nil {
		return headResult{}, false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u.String(), nil)
	if err != nil {
		return headResult{}, false, err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return headResult{}, false, ctx.Err()
		}
		w.bad(fmt.Errorf("HEAD %s: %w", u.Path, err))
		return headResult{}, false, nil
	}
	resp.Body.Close()
	w.stats.Heads++
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusGone {
			w.bad(fmt.Errorf("HEAD %s: %s", u.Path, resp.Status))
		}
		return headResult{}, false, nil
	}
	size, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	if err != nil {
		w.bad(fmt.Errorf("HEAD %s: no Content-Length", u.Path))
		return headResult{}, false, nil
	}
	h := headResult{size: size}
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		h.mtime = t.Unix()
	}
	return h, true, nil
}

// OriginSource is a Source whose listing is made better knowing the
// origin: HTTPIndex asks a HEAD only for the files the judgement depends
// on.
type OriginSource interface {
	Source
	ListFor(ctx context.Context, ix *Index, fn func(Entry) error, bad func(error)) error
}

var _ OriginSource = (*HTTPIndex)(nil)
