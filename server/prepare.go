package server

import (
	"context"

	"github.com/dispatcher/dispatcher/strategy"
)

// The pools of a file's holders (strategy.Pool.Prepare) are built in the
// background rather than by the first request that needs each: after
// every new snapshot (new pools start with none) and every new View of a
// file-aware pool (new sets of holders). At 1,000 mirrors a pool of
// holders costs about 0.1–1 ms to build, and a pool keeps up to 64.

// maxPreparedSets is how many sets of holders are prepared per pool: the
// strategy's cache keeps as many.
const maxPreparedSets = 64

// kickPrepare asks the preparer to run (it runs once for any number of
// kicks that come while it works).
func (s *Server) kickPrepare() {
	select {
	case s.prepareKick <- struct{}{}:
	default:
	}
}

// prepareLoop prepares the holders' pools when kicked, until ctx ends.
func (s *Server) prepareLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.prepareKick:
			s.prepareHolders(ctx)
		}
	}
}

// prepareHolders prepares, for every file-aware pool of the current
// snapshot, the pools of the holders its View's files have most. It stops
// early when ctx ends or the snapshot is replaced (a kick follows).
func (s *Server) prepareHolders(ctx context.Context) {
	g := s.gen.Load()
	snap := g.state.Load()
	if snap == nil {
		return
	}
	s.mu.Lock()
	views := make(map[string]func() [][]uint64, len(s.scanners))
	for name, ps := range s.scanners {
		scan := ps.scan
		views[name] = func() [][]uint64 {
			v := scan.View()
			if v == nil {
				return nil
			}
			p := snap.Pool(name)
			if p == nil || !servesPool(v.Mirrors, p) {
				return nil
			}
			return v.HolderMasks(maxPreparedSets)
		}
	}
	s.mu.Unlock()
	for name, masks := range views {
		if ctx.Err() != nil || g.state.Load() != snap {
			return
		}
		if p := snap.Pool(name); p != nil {
			p.Prepare(masks())
		}
	}
	s.prepared.Add(1)
}

// servesPool reports whether a View's mirrors (names, in the order of its
// bits) are p's, in p's order.
func servesPool(names []string, p *strategy.Pool) bool {
	if len(names) != len(p.Mirrors) {
		return false
	}
	for i := range names {
		if names[i] != p.Mirrors[i].Name {
			return false
		}
	}
	return true
}
