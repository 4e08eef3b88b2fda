package server

import (
	"context"
	"fmt"

	"github.com/dispatcher/dispatcher/config"
	"github.com/dispatcher/dispatcher/handlers"
	"github.com/dispatcher/dispatcher/store"
)

// SetEnabled implements handlers.Operator: drain or re-enable a mirror. A
// drain holds across reloads until the mirror is enabled again.
func (s *Server) SetEnabled(ctx context.Context, pool, mirror string, enabled bool) error {
	g := s.gen.Load()
	if !hasMirror(g.cfg, pool, mirror) {
		return fmt.Errorf("pool %q mirror %q: %w", pool, mirror, handlers.ErrNotFound)
	}
	k := store.MirrorKey{Pool: pool, Mirror: mirror}
	s.mu.Lock()
	if enabled {
		delete(s.drained, k)
	} else {
		s.drained[k] = true
	}
	if s.store != nil {
		s.pendingDrains[k] = !enabled
	}
	s.drainEpoch++
	s.mu.Unlock()
	s.rebuild()
	if s.store != nil {
		// Shared now if Redis answers; else by the next sync.
		s.flushDrains(ctx)
	}
	s.log.Info("mirror state changed by admin", "pool", pool, "mirror", mirror, "enabled", enabled)
	return nil
}

func hasMirror(cfg *config.Config, pool, mirror string) bool {
	for _, p := range cfg.Pools {
		if p.Name != pool {
			continue
		}
		for _, m := range p.Mirrors {
			if m.Name == mirror {
				return true
			}
		}
	}
	return false
}
