package server

import (
	"context"
	"sync"
	"time"

	"github.com/dispatcher/dispatcher/handlers"
	"github.com/dispatcher/dispatcher/internal/wait"
	"github.com/dispatcher/dispatcher/store"
)

// historyWindow and historyEvery size the dashboard's history: 15 minutes
// of samples every 2 s, 24 bytes a mirror a sample, for at most
// historyMirrors mirrors of each pool (5 pools of 256 mirrors: 14 MB).
const (
	historyWindow  = 15 * time.Minute
	historyEvery   = 2 * time.Second
	historyMirrors = 256
)

// history keeps the last historyWindow of samples of the redirect count,
// utilisation and effective weight of each pool's first historyMirrors
// mirrors, in a ring, so that a dashboard opened (or reloaded) now draws
// the last 15 minutes. A pool of more mirrors has charts for its first
// historyMirrors: a chart of more lines says nothing, and the history of
// every mirror of 10,000 took gigabytes, and the collector's time with it.
type history struct {
	every time.Duration
	mu    sync.Mutex
	ring  []historySample // oldest first once full: ring[next:], ring[:next]
	next  int
	full  bool
}

type historySample struct {
	at    time.Time
	pools []historyPool
}

// historyPool is one pool's points of a sample, in the order of names
// (shared by the samples of one configuration).
type historyPool struct {
	name   string
	names  []string
	points []historyPoint
}

type historyPoint struct {
	redirects   uint64
	utilization float64
	effective   float64
}

func newHistory(every time.Duration) *history {
	return &history{every: every, ring: make([]historySample, int(historyWindow/every)+1)}
}

// add records one sample of st taken at at: its first historyMirrors
// mirrors of each pool.
func (h *history) add(at time.Time, st *handlers.Status) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var prev []historyPool
	if last := (h.next + len(h.ring) - 1) % len(h.ring); h.ring[last].pools != nil {
		prev = h.ring[last].pools
	}
	pools := make([]historyPool, 0, len(st.Pools))
	for _, p := range st.Pools {
		ms := p.Mirrors[:min(len(p.Mirrors), historyMirrors)]
		hp := historyPool{name: p.Name, points: make([]historyPoint, len(ms))}
		for j, m := range ms {
			hp.points[j] = historyPoint{m.Redirects, m.Utilization, m.EffectiveWeight}
		}
		hp.names = sameNames(prev, p.Name, ms)
		pools = append(pools, hp)
	}
	h.ring[h.next] = historySample{at, pools}
	h.next = (h.next + 1) % len(h.ring)
	h.full = h.full || h.next == 0
}

// sameNames returns the names of ms, the slice of the previous sample's
// pool when it holds the same.
func sameNames(prev []historyPool, pool string, ms []handlers.MirrorStatus) []string {
	for _, hp := range prev {
		if hp.name != pool || len(hp.names) != len(ms) {
			continue
		}
		same := true
		for j := range ms {
			same = same && hp.names[j] == ms[j].Name
		}
		if same {
			return hp.names
		}
	}
	names := make([]string, len(ms))
	for j := range ms {
		names[j] = ms[j].Name
	}
	return names
}

// samples returns the samples, oldest first.
func (h *history) samples() []historySample {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.full {
		return append([]historySample(nil), h.ring[:h.next]...)
	}
	return append(append([]historySample(nil), h.ring[h.next:]...), h.ring[:h.next]...)
}

// point returns mirror's point in pool of sample s.
func (s *historySample) point(pool, mirror string, index map[*string]map[string]int) (historyPoint, bool) {
	for _, hp := range s.pools {
		if hp.name != pool || len(hp.names) == 0 {
			continue
		}
		pos, ok := index[&hp.names[0]]
		if !ok {
			pos = make(map[string]int, len(hp.names))
			for j, n := range hp.names {
				pos[n] = j
			}
			index[&hp.names[0]] = pos
		}
		if j, ok := pos[mirror]; ok {
			return hp.points[j], true
		}
	}
	return historyPoint{}, false
}

// series returns the samples after since for the pools and mirrors of st
// (the configuration being served), with a rate from each sample's
// predecessor.
func (h *history) series(since time.Time, st *handlers.Status) *handlers.History {
	all := h.samples()
	out := &handlers.History{IntervalSeconds: h.every.Seconds(), WindowSeconds: historyWindow.Seconds(),
		Times: []int64{}, Pools: []handlers.PoolHistory{}}
	first := len(all)
	for i, s := range all {
		if s.at.After(since) {
			first = i
			break
		}
	}
	for _, s := range all[first:] {
		out.Times = append(out.Times, s.at.UnixMilli())
	}
	index := map[*string]map[string]int{}
	for _, p := range st.Pools {
		ph := handlers.PoolHistory{Name: p.Name, Mirrors: []handlers.MirrorHistory{}}
		for _, m := range p.Mirrors {
			mh := handlers.MirrorHistory{Name: m.Name}
			for i := first; i < len(all); i++ {
				pt, ok := all[i].point(p.Name, m.Name, index)
				var rate, util, eff *float64
				if ok {
					util, eff = ptr(pt.utilization), ptr(pt.effective)
					if i > 0 {
						if prev, ok := all[i-1].point(p.Name, m.Name, index); ok && pt.redirects >= prev.redirects {
							rate = ptr(float64(pt.redirects-prev.redirects) / all[i].at.Sub(all[i-1].at).Seconds())
						}
					}
				}
				mh.RedirectsPerSecond = append(mh.RedirectsPerSecond, rate)
				mh.Utilization = append(mh.Utilization, util)
				mh.EffectiveWeight = append(mh.EffectiveWeight, eff)
			}
			ph.Mirrors = append(ph.Mirrors, mh)
		}
		out.Pools = append(out.Pools, ph)
	}
	return out
}

func ptr(v float64) *float64 { return &v }

// run samples the status every h.every until ctx ends; status needs to
// give each pool's first historyMirrors mirrors only.
func (h *history) run(ctx context.Context, status func() *handlers.Status) {
	sample := func() { h.add(time.Now(), status()) }
	sample()
	wait.Every(ctx, h.every, sample)
}

// historyStatus is what the history samples: the redirect count,
// utilisation and effective weight of each pool's first historyMirrors
// mirrors, read from the snapshot and the monitor (Status builds far
// more, for every mirror: 38 ms at 5 pools of 10,000).
func (s *Server) historyStatus() *handlers.Status {
	g := s.gen.Load()
	snap := g.state.Load()
	st := &handlers.Status{}
	for i := range g.cfg.Pools {
		cp := &g.cfg.Pools[i]
		p := snap.Pool(cp.Name)
		if p == nil {
			continue
		}
		ps := handlers.PoolStatus{Name: cp.Name}
		for j := range cp.Mirrors[:min(len(cp.Mirrors), historyMirrors)] {
			m := p.Find(cp.Mirrors[j].Name)
			if m == nil {
				continue
			}
			k := store.MirrorKey{Pool: cp.Name, Mirror: m.Name}
			ms := handlers.MirrorStatus{Name: m.Name, EffectiveWeight: m.Effective, Redirects: s.redirects(k, m.Redirects)}
			if fs, ok := s.monitor.State(k); ok {
				ms.Utilization = fs.Utilization
			}
			ps.Mirrors = append(ps.Mirrors, ms)
		}
		st.Pools = append(st.Pools, ps)
	}
	return st
}

// History implements handlers.Operator.
func (s *Server) History(since time.Time) *handlers.History {
	return s.history.series(since, s.Status())
}
