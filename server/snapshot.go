package server

import (
	"context"
	"net/netip"
	"net/url"
	"time"

	"github.com/dispatcher/dispatcher/config"
	"github.com/dispatcher/dispatcher/feedback"
	"github.com/dispatcher/dispatcher/geo"
	"github.com/dispatcher/dispatcher/handlers"
	"github.com/dispatcher/dispatcher/store"
	"github.com/dispatcher/dispatcher/strategy"
)

// snapshot builds the pools of cfg with the current effective weights
// (feedback.Law's factors, the one rule for them), and keeps the factors
// for /api/explain. Callers hold s.mu.
func (s *Server) snapshot(cfg *config.Config) *strategy.Snapshot {
	s.version++
	now := time.Now()
	var ramp time.Duration
	if cfg.Health != nil {
		ramp = time.Duration(cfg.Health.RampUp)
	}
	law := s.monitor.Law()
	var back []store.MirrorKey // mirrors that serve again
	serving := make(map[store.MirrorKey]bool, len(s.serving))
	pools := make([]*strategy.Pool, 0, len(cfg.Pools))
	explained := make(map[string]map[string]handlers.WeightFactors, len(cfg.Pools))
	for _, p := range cfg.Pools {
		ms := make([]strategy.Mirror, len(p.Mirrors))
		in := make([]feedback.WeightInput, len(p.Mirrors))
		for j := range p.Mirrors {
			cm := &p.Mirrors[j]
			k := store.MirrorKey{Pool: p.Name, Mirror: cm.Name}
			ms[j] = mirrorView(cm)
			ms[j].Redirects = s.counter(k)
			in[j] = feedback.WeightInput{Weight: ms[j].Weight, Enabled: s.enabled(p.Name, cm)}
			in[j].State, in[j].Watched = s.monitor.State(k)
			serving[k] = in[j].Enabled && (!in[j].Watched || !in[j].State.Probed || in[j].State.Up)
			if was, known := s.serving[k]; known && !was && serving[k] {
				back = append(back, k)
			}
		}
		explained[p.Name] = make(map[string]handlers.WeightFactors, len(p.Mirrors))
		for j, f := range law.Explain(in, now, ramp) {
			ms[j].Effective = f.Of(in[j].Weight)
			cm := &p.Mirrors[j]
			explained[p.Name][cm.Name] = handlers.WeightFactors{
				Configured: cm.IsEnabled(), Drained: s.drained[store.MirrorKey{Pool: p.Name, Mirror: cm.Name}],
				Health: f.Health, Headroom: f.Headroom, Ramp: f.Ramp, Capacity: f.Capacity, Floored: f.Floored,
			}
		}
		pools = append(pools, strategy.NewPool(strategy.PoolSpec{
			Name:       p.Name,
			Strategy:   newStrategy(p.Strategy),
			Mirrors:    ms,
			Seq:        s.sequence(p.Name),
			IPv4Prefix: p.IPv4Prefix,
			IPv6Prefix: p.IPv6Prefix,
			Unserved:   s.unservedCounter(p.Name),
		}))
	}
	s.explained, s.serving = explained, serving // mirrors gone with a reload are forgotten
	s.relistReturning(back)
	return strategy.NewSnapshot(pools, s.version, now)
}

// relistReturning distrusts the files of mirrors of file-aware pools that
// serve again (up after being down, enabled after a drain), before the
// snapshot that lets them serve is published, and lists them again at
// once: a mirror reinstalled empty while it was away gets no client for a
// file until a listing shows it holds it. Callers hold s.mu.
func (s *Server) relistReturning(back []store.MirrorKey) {
	kicked := map[*poolScanner]bool{}
	for _, k := range back {
		ps := s.scanners[k.Pool]
		if ps == nil || !ps.scan.Distrust(k.Mirror) {
			continue
		}
		s.log.Info("mirror serves again: its files are listed again before it gets clients for them", "pool", k.Pool, "mirror", k.Mirror)
		if !kicked[ps] && s.runCtx != nil {
			kicked[ps] = true
			s.relist(ps)
		}
	}
}

// relist lists again, in the background, the mirrors of ps whose files
// are not known. Returns that come while it runs make it run once more,
// not once each: a mirror that flaps costs one listing at a time. Callers
// hold s.mu.
func (s *Server) relist(ps *poolScanner) {
	if ps.relists.Add(1) > 1 {
		return // the running one goes again
	}
	s.wg.Add(1) // Stop clears runCtx under s.mu before it waits
	go func(ctx context.Context) {
		defer s.wg.Done()
		for {
			n := ps.relists.Load()
			ps.scan.Relist(ctx)
			if ctx.Err() != nil {
				ps.relists.Store(0)
				return
			}
			if ps.relists.Add(-n) == 0 {
				return
			}
		}
	}(s.runCtx)
}

// mirrorView is a configured mirror as the strategies see it, without its
// effective weight and counter.
func mirrorView(m *config.Mirror) strategy.Mirror {
	sm := strategy.Mirror{
		Name:      m.Name,
		URL:       m.URL,
		Country:   m.Country,
		Continent: m.Continent,
		Countries: m.Countries,
		Weight:    m.ConfiguredWeight(),
		HTTPS:     isHTTPS(m),
		IPv6:      hasIPv6(m),
		IPv6Only:  !hasIPv4(m),
		Networks:  m.Nets,
		Only:      localities[m.Only],

		ExcludeCountries: m.ExcludeCountries,
	}
	for _, a := range m.ASN {
		sm.ASNs = append(sm.ASNs, uint32(a))
	}
	// Continent and coordinates default from the country.
	if c, ok := geo.LookupCountry(m.Country); ok {
		if sm.Continent == "" {
			sm.Continent = c.Continent
		}
		sm.Lat, sm.Lon, sm.HasLoc = c.Lat, c.Lon, true
	}
	if m.Lat != nil && m.Lon != nil {
		sm.Lat, sm.Lon, sm.HasLoc = *m.Lat, *m.Lon, true
	}
	return sm
}

// hasIPv6 is the ipv6 key, else false for a mirror whose URL is an IPv4
// address and true otherwise (a name may have AAAA records; say "ipv6":
// false for an IPv4-only mirror).
func hasIPv6(m *config.Mirror) bool {
	if m.IPv6 != nil {
		return *m.IPv6
	}
	if u, err := url.Parse(m.URL); err == nil {
		if a, err := netip.ParseAddr(u.Hostname()); err == nil {
			return a.Is6() && !a.Is4In6()
		}
	}
	return true
}

// hasIPv4 is the ipv4 key, else false for a mirror whose URL is an IPv6
// address and true otherwise.
func hasIPv4(m *config.Mirror) bool {
	if m.IPv4 != nil {
		return *m.IPv4
	}
	if u, err := url.Parse(m.URL); err == nil {
		if a, err := netip.ParseAddr(u.Hostname()); err == nil {
			return a.Is4() || a.Is4In6()
		}
	}
	return true
}

// localities maps mirrors.json's only to the strategies' Locality.
var localities = map[string]strategy.Locality{
	"":                   strategy.Anywhere,
	config.OnlyNetwork:   strategy.OwnNetworks,
	config.OnlyASN:       strategy.OwnASNs,
	config.OnlyCountry:   strategy.OwnCountry,
	config.OnlyContinent: strategy.OwnContinent,
}

func isHTTPS(m *config.Mirror) bool {
	if m.HTTPS != nil {
		return *m.HTTPS
	}
	return len(m.URL) >= 8 && m.URL[:8] == "https://"
}

// enabled reports whether a mirror is enabled in the file and not drained.
func (s *Server) enabled(pool string, m *config.Mirror) bool {
	return m.IsEnabled() && !s.drained[store.MirrorKey{Pool: pool, Mirror: m.Name}]
}

// newStrategy returns the pool's strategy (the configuration was
// checked: the name is known).
func newStrategy(name string) strategy.Strategy {
	if st, ok := strategy.ByName(name); ok {
		return st
	}
	return new(strategy.Random)
}
