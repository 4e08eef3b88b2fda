package server

import (
	"context"
	"sync"
	"time"

	"github.com/dispatcher/dispatcher/handlers"
	"github.com/dispatcher/dispatcher/internal/wait"
)

// historyWindow and historyEvery size the dashboard's history: 15 minutes
// of samples every 2 s, about 25 bytes a mirror a sample.
const (
	historyWindow = 15 * time.Minute
	historyEvery  = 2 * time.Second
)

// history keeps the last historyWindow of samples of every mirror's
// redirect count, utilisation and effective weight, in a ring, so that a
// dashboard opened (or reloaded) now draws the last 15 minutes.
type history struct {
	every time.Duration
	mu    sync.Mutex
	ring  []historySample // oldest first once full: ring[next:], ring[:next]
	next  int
	full  bool
}

type historySample struct {
	at     time.Time
	points map[historyKey]historyPoint
}

type historyKey struct{ pool, mirror string }

type historyPoint struct {
	redirects   uint64
	utilization float64
	effective   float64
}

func newHistory(every time.Duration) *history {
	return &history{every: every, ring: make([]historySample, int(historyWindow/every)+1)}
}

// add records one sample of st taken at at.
func (h *history) add(at time.Time, st *handlers.Status) {
	points := map[historyKey]historyPoint{}
	for _, p := range st.Pools {
		for _, m := range p.Mirrors {
			points[historyKey{p.Name, m.Name}] = historyPoint{m.Redirects, m.Utilization, m.EffectiveWeight}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ring[h.next] = historySample{at, points}
	h.next = (h.next + 1) % len(h.ring)
	h.full = h.full || h.next == 0
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
	for _, p := range st.Pools {
		ph := handlers.PoolHistory{Name: p.Name, Mirrors: []handlers.MirrorHistory{}}
		for _, m := range p.Mirrors {
			k := historyKey{p.Name, m.Name}
			mh := handlers.MirrorHistory{Name: m.Name}
			for i := first; i < len(all); i++ {
				pt, ok := all[i].points[k]
				var rate, util, eff *float64
				if ok {
					util, eff = ptr(pt.utilization), ptr(pt.effective)
					if i > 0 {
						if prev, ok := all[i-1].points[k]; ok && pt.redirects >= prev.redirects {
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

// run samples the status every h.every until ctx ends.
func (h *history) run(ctx context.Context, status func() *handlers.Status) {
	sample := func() { h.add(time.Now(), status()) }
	sample()
	wait.Every(ctx, h.every, sample)
}

// History implements handlers.Operator.
func (s *Server) History(since time.Time) *handlers.History {
	return s.history.series(since, s.Status())
}
