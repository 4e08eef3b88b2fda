package feedback

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/dispatcher/dispatcher/internal/wait"
)

// maxProbes bounds the probes in flight at once.
const maxProbes = 32

// maxJitter bounds the random delay before a probe.
const maxJitter = time.Second

// runHealth probes every distinct health URL once, with jitter, records
// the result on every mirror probed there (a mirror listed in several
// pools is probed once), and reports whether a mirror went up or down.
func (m *Monitor) runHealth(ctx context.Context, every time.Duration) bool {
	m.mu.Lock()
	cfg := m.cfg
	byURL := map[string][]*mirror{}
	for _, mr := range m.mirrors {
		u := mr.probe
		if u == "" && cfg.Health != nil {
			u = probeURL(mr.url, cfg.Health.Path)
		}
		byURL[u] = append(byURL[u], mr)
	}
	m.mu.Unlock()
	if cfg.Health == nil {
		return false
	}
	h := cfg.Health
	probe := m.probe
	if probe == nil {
		probe = HTTPProbe(&http.Client{
			Timeout:       time.Duration(h.Timeout),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}, h.Method)
	}
	// Jitter spreads the probes over a fifth of the interval, at most
	// maxJitter, so that they do not hit the mirrors (and our sockets) all
	// at once, and a slow schedule still has its results soon.
	jitter := min(every/5, maxJitter)
	results := make(map[string]error, len(byURL))
	var rmu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxProbes)
	for u := range byURL {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var delay time.Duration
			if jitter > 0 {
				delay = rand.N(jitter)
			}
			if !wait.Sleep(ctx, delay) || !wait.Acquire(ctx, sem) {
				return
			}
			defer func() { <-sem }()
			pctx, cancel := context.WithTimeout(ctx, time.Duration(h.Timeout))
			defer cancel()
			start := time.Now()
			err := probe(pctx, u)
			m.observe("probe", time.Since(start), err != nil)
			rmu.Lock()
			results[u] = err
			rmu.Unlock()
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return false
	}
	now := time.Now()
	changed := false
	m.mu.Lock()
	defer m.mu.Unlock()
	for u, group := range byURL {
		err := results[u]
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		for _, mr := range group {
			if !mr.health.record(err == nil, msg, h.Window, h.Threshold, now) {
				continue
			}
			changed = true
			if mr.health.up {
				m.log.Info("mirror is up", "pool", mr.key.Pool, "mirror", mr.key.Mirror)
			} else {
				m.log.Warn("mirror is down", "pool", mr.key.Pool, "mirror", mr.key.Mirror, "err", msg)
			}
		}
	}
	return changed
}
