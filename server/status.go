package server

import (
	"fmt"
	"time"

	"github.com/dispatcher/dispatcher/config"
	"github.com/dispatcher/dispatcher/files"
	"github.com/dispatcher/dispatcher/files/verify"
	"github.com/dispatcher/dispatcher/handlers"
	"github.com/dispatcher/dispatcher/store"
	"github.com/dispatcher/dispatcher/strategy"
)

// Ready implements handlers.Operator.
func (s *Server) Ready() (bool, string) {
	g := s.gen.Load()
	if g == nil {
		return false, "configuration not loaded"
	}
	switch {
	case s.store == nil:
		return true, fmt.Sprintf("ready: config %s; state in process (no redis configured)", g.cfg.SHA256[:12])
	case s.store.Connected():
		return true, fmt.Sprintf("ready: config %s; state shared through redis", g.cfg.SHA256[:12])
	default:
		return true, fmt.Sprintf("ready: config %s; degraded: redis unreachable, state in process until it answers (%s)", g.cfg.SHA256[:12], s.store.LastError())
	}
}

// Status implements handlers.Operator.
func (s *Server) Status() *handlers.Status {
	g := s.gen.Load()
	snap := g.state.Load()
	st := &handlers.Status{
		ConfigSHA256:    g.cfg.SHA256,
		ConfigFile:      g.cfg.File,
		Started:         s.started.UTC(),
		SnapshotVersion: snap.Version,
		Redis:           handlers.RedisStatus{Configured: s.store != nil},
		GeoIP:           "none",
	}
	if g.geo != nil {
		st.GeoIP = g.geo.Path + " (" + g.geo.Type + ")"
	}
	if s.store != nil {
		st.Redis.Connected = s.store.Connected()
		st.Redis.Fallbacks, _, _ = s.store.Stats()
		if !st.Redis.Connected {
			st.Redis.Error = s.store.LastError()
		}
	}
	for i := range g.cfg.Pools {
		if ps, ok := s.poolStatus(g, snap, &g.cfg.Pools[i]); ok {
			st.Pools = append(st.Pools, ps)
		}
	}
	return st
}

// PoolStatus implements handlers.Operator: the status of one pool, as
// Status has it, at the cost of that pool alone.
func (s *Server) PoolStatus(pool string) (handlers.PoolStatus, bool) {
	g := s.gen.Load()
	if g == nil {
		return handlers.PoolStatus{}, false
	}
	for i := range g.cfg.Pools {
		if g.cfg.Pools[i].Name == pool {
			return s.poolStatus(g, g.state.Load(), &g.cfg.Pools[i])
		}
	}
	return handlers.PoolStatus{}, false
}

// poolStatus is the status of the configured pool cp in snap; false when
// snap has no such pool.
func (s *Server) poolStatus(g *generation, snap *strategy.Snapshot, cp *config.Pool) (handlers.PoolStatus, bool) {
	p := snap.Pool(cp.Name)
	if p == nil {
		return handlers.PoolStatus{}, false // not built from this configuration: never happens
	}
	ps := handlers.PoolStatus{Name: cp.Name, Strategy: cp.Strategy, Routes: cp.Routes, Fallback: cp.Fallback, Usable: p.Usable()}
	s.mu.Lock()
	sc, scanned := s.scanners[cp.Name]
	var scan *files.Scanner
	var checks *verify.Verifier
	if scanned {
		scan, checks = sc.scan, sc.verify
	}
	s.mu.Unlock()
	var mirrorFiles map[string]files.MirrorStatus
	if scanned && cp.Files != nil {
		var origin files.OriginStatus
		origin, mirrorFiles = scan.Status()
		ps.Files = &handlers.PoolFiles{OriginFiles: origin.Files, LastScan: timePtr(origin.LastScan), ScanError: origin.Err}
		ps.Files.ScansHere, ps.Files.Adopted = scan.Scans()
		if checks != nil {
			ps.Files.ChecksHere, _ = checks.Stats()
		}
	}
	for j := range cp.Mirrors {
		m := p.Find(cp.Mirrors[j].Name)
		if m == nil {
			continue
		}
		ms := handlers.MirrorStatus{
			Name:            m.Name,
			URL:             m.URL,
			Country:         m.Country,
			Continent:       m.Continent,
			Enabled:         s.enabledNow(cp.Name, &cp.Mirrors[j]),
			Up:              true,
			Weight:          m.Weight,
			EffectiveWeight: m.Effective,
			Redirects:       s.redirects(store.MirrorKey{Pool: cp.Name, Mirror: m.Name}, m.Redirects),
		}
		if fs, ok := s.monitor.State(store.MirrorKey{Pool: cp.Name, Mirror: m.Name}); ok {
			ms.Up = !fs.Probed || fs.Up
			ms.LastProbe, ms.ProbeError = timePtr(fs.LastProbe), fs.ProbeError
			ms.BandwidthBps, ms.CapacityBps, ms.Utilization = fs.BandwidthBps, fs.CapacityBps, fs.Utilization
			ms.LastPoll, ms.PollError = timePtr(fs.LastPoll), fs.PollError
		}
		if mf, ok := mirrorFiles[m.Name]; ok {
			ms.Files = &handlers.MirrorFiles{Held: mf.Held, Missing: mf.Missing, Outdated: mf.Outdated,
				Listed: mf.Listed, LastScan: timePtr(mf.LastScan), ScanError: mf.Err}
		}
		ps.Mirrors = append(ps.Mirrors, ms)
	}
	return ps, true
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func (s *Server) enabledNow(pool string, m *config.Mirror) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enabled(pool, m)
}

// WeightFactors implements handlers.Operator: the factors behind the
// effective weights of pool's mirrors in the snapshot built last, by
// mirror name.
func (s *Server) WeightFactors(pool string) map[string]handlers.WeightFactors {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.explained[pool]
}
