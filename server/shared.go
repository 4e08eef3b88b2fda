package server

import (
	"context"
	"maps"
	"sync/atomic"
	"time"

	"github.com/dispatcher/dispatcher/internal/wait"
	"github.com/dispatcher/dispatcher/store"
)

// syncLoop exchanges the shared state with Redis every interval until ctx
// ends: redirect counts out and totals back, drains both ways.
func (s *Server) syncLoop(ctx context.Context, every time.Duration) {
	wait.Every(ctx, every, func() { s.syncShared(ctx) })
}

// syncShared is one exchange. Failures leave the local state as it is for
// the next exchange; the store logs the change of connection state.
//
// The drained set read from Redis replaces the local one only when it
// reflects every admin change made here: none was pending when the read
// began (all were written), and none came in while it ran (drainEpoch).
// Otherwise the next exchange reads again.
func (s *Server) syncShared(ctx context.Context) {
	defer s.syncs.Add(1)
	s.flushCounts(ctx)
	if !s.flushDrains(ctx) {
		return
	}
	s.mu.Lock()
	epoch, pending := s.drainEpoch, len(s.pendingDrains)
	s.mu.Unlock()
	if pending > 0 {
		return
	}
	drained, err := s.store.Drained(ctx)
	if err != nil {
		return
	}
	s.mu.Lock()
	if s.drainEpoch != epoch {
		s.mu.Unlock()
		return
	}
	changed := !maps.Equal(drained, s.drained)
	if changed {
		s.drained = drained
	}
	s.mu.Unlock()
	if changed {
		s.log.Info("drained mirrors changed in redis", "drained", len(drained))
		s.rebuild()
	}
}

// flushCounts adds what the local counters gained since the last flush to
// the shared counts and reads back the fleet totals. A failed flush keeps
// the gains for the next one.
func (s *Server) flushCounts(ctx context.Context) {
	s.mu.Lock()
	now := make(map[store.MirrorKey]uint64, len(s.counts))
	deltas := make(map[store.MirrorKey]uint64, len(s.counts))
	for k, c := range s.counts {
		v := c.Load()
		now[k] = v
		if d := v - s.flushed[k]; d > 0 {
			deltas[k] = d
		}
	}
	s.mu.Unlock()
	totals, err := s.store.AddCounts(ctx, deltas)
	if err != nil {
		return
	}
	s.mu.Lock()
	for k, v := range now {
		s.flushed[k] = v
	}
	s.sharedCounts = totals
	s.mu.Unlock()
}

// flushDrains writes pending admin drains to Redis and reports whether
// none is left pending.
func (s *Server) flushDrains(ctx context.Context) bool {
	s.drainWrites.Lock()
	defer s.drainWrites.Unlock()
	s.mu.Lock()
	pending := maps.Clone(s.pendingDrains)
	s.mu.Unlock()
	for k, drained := range pending {
		if err := s.store.SetDrained(ctx, k, drained); err != nil {
			return false
		}
		s.mu.Lock()
		if s.pendingDrains[k] == drained {
			delete(s.pendingDrains, k)
		}
		s.mu.Unlock()
	}
	return true
}

// redirects is the count shown in /api/status: with Redis, the fleet total
// plus what this instance has not flushed yet; without, the local count.
func (s *Server) redirects(k store.MirrorKey, local *atomic.Uint64) uint64 {
	v := local.Load()
	if s.store == nil {
		return v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sharedCounts[k] + v - s.flushed[k]
}
