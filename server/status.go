package server

import (
	"fmt"
	"time"

	"github.com/dispatcher/dispatcher/config"
	"github.com/dispatcher/dispatcher/files"
	"github.com/dispatcher/dispatcher/handlers"
	"github.com/dispatcher/dispatcher/store"
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
	s.mu.Lock()
	scanners := make(map[string]poolScanner, len(s.scanners))
	for name, ps := range s.scanners {
		scanners[name] = *ps
	}
	s.mu.Unlock()
	for _, cp := range g.cfg.Pools {
		p := snap.Pool(cp.Name)
		if p == nil {
			continue // not built from this configuration: never happens
		}
		ps := handlers.PoolStatus{Name: cp.Name, Strategy: cp.Strategy, Routes: cp.Routes, Fallback: cp.Fallback, Usable: p.Usable()}
		var mirrorFiles map[string]files.MirrorStatus
		if sc, ok := scanners[cp.Name]; ok && cp.Files != nil {
			var origin files.OriginStatus
			origin, mirrorFiles = sc.scan.Status()
			ps.Files = &handlers.PoolFiles{OriginFiles: origin.Files, LastScan: timePtr(origin.LastScan), ScanError: origin.Err}
			ps.Files.ScansHere, ps.Files.Adopted = sc.scan.Scans()
			if sc.verify != nil {
				ps.Files.ChecksHere, _ = sc.verify.Stats()
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
		st.Pools = append(st.Pools, ps)
	}
	return st
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
