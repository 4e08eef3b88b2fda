// Package server ties the dispatcher together: it loads the configuration,
// builds snapshots of the pools, serves them through the handlers, swaps in
// a new configuration on reload, and answers the operator endpoints.
package server

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/dispatcher/dispatcher/config"
	"github.com/dispatcher/dispatcher/feedback"
	"github.com/dispatcher/dispatcher/geo"
	"github.com/dispatcher/dispatcher/handlers"
	"github.com/dispatcher/dispatcher/store"
	"github.com/dispatcher/dispatcher/strategy"
)

// Options configure a Server.
type Options struct {
	ConfigPath string
	Overrides  config.Overrides
	Log        *slog.Logger
	AdminToken string
	AccessLog  bool
	Dashboard  fs.FS
	Version    string
	// LogDropped counts the log lines dropped because the log output did
	// not keep up (nil: none are).
	LogDropped func() uint64
}

// Server is the running dispatcher. It implements http.Handler by handing
// each request to the engine of the current configuration, and
// handlers.Operator. It is safe for concurrent use.
type Server struct {
	opts    Options
	log     *slog.Logger
	started time.Time

	gen atomic.Pointer[generation]

	// reloadMu serialises reloads from start (reading the file) to end
	// (publishing the generation), so that overlapping SIGHUPs and API
	// calls apply one after another and the last serves the newest file.
	// Lock order: reloadMu, then the monitor's locks, then mu. The
	// monitor's runs call rebuild, which takes mu alone; the monitor never
	// waits for a run while a lock is held.
	reloadMu sync.Mutex

	// mu guards the state below and serialises snapshot rebuilds; the
	// request path never takes it.
	mu       sync.Mutex
	version  uint64
	seqs     map[string]strategy.Sequence // by pool name; survive reloads
	counts   map[mirrorKey]*atomic.Uint64 // redirects, by pool and mirror
	noMirror map[string]*atomic.Uint64    // answers without a mirror, by pool
	drained  map[mirrorKey]bool           // set by the admin API

	reloadsOK, reloadsFailed atomic.Uint64

	// store is nil when no Redis is configured.
	store *store.Store
	// monitor runs the health probes and SNMP polls.
	monitor *feedback.Monitor
	// geo is the open geo database (nil when none is configured or it
	// cannot be opened). Guarded by mu; requests use their generation's.
	geo *geo.DB
	// shared redirect counts: fleet totals read from Redis, and how much
	// of each local counter has been added to them. Guarded by mu.
	sharedCounts map[mirrorKey]uint64
	flushed      map[mirrorKey]uint64
	// pendingDrains are admin changes not yet written to Redis.
	pendingDrains map[mirrorKey]bool
	// drainEpoch counts admin drains and enables; a sync that read Redis
	// across a change discards what it read (guarded by mu).
	drainEpoch uint64
	// drainWrites serialises writing pending drains to Redis, so that an
	// older value is never written after a newer one.
	drainWrites sync.Mutex
	// syncEvery is the interval of the Redis exchange (counts, drains).
	syncEvery time.Duration
	// syncs counts completed exchanges.
	syncs atomic.Uint64

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// mirrorKey names a mirror of a pool.
type mirrorKey = store.MirrorKey

// generation is one loaded configuration with everything built from it.
// Only state changes after it is published.
type generation struct {
	cfg      *config.Config
	engine   *gin.Engine
	state    *strategy.State
	pools    []handlers.Pool
	counts   [][]*atomic.Uint64
	noMirror []*atomic.Uint64
	loaded   time.Time
	// geo is the geo database this generation locates clients with (nil:
	// none configured, or it cannot be opened).
	geo *geo.DB
}

// New loads the configuration and builds the first generation.
func New(opts Options) (*Server, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts:     opts,
		log:      opts.Log,
		started:  time.Now(),
		seqs:     map[string]strategy.Sequence{},
		counts:   map[mirrorKey]*atomic.Uint64{},
		noMirror: map[string]*atomic.Uint64{},
		drained:  map[mirrorKey]bool{},

		sharedCounts:  map[mirrorKey]uint64{},
		flushed:       map[mirrorKey]uint64{},
		pendingDrains: map[mirrorKey]bool{},
		syncEvery:     500 * time.Millisecond,
	}
	cfg, err := config.Load(opts.ConfigPath, opts.Overrides)
	if err != nil {
		return nil, err
	}
	if cfg.Redis != "" {
		s.store, err = store.Open(store.Options{URL: cfg.Redis, Budget: time.Duration(cfg.RedisTimeout), Prefix: cfg.RedisPrefix, Log: s.log})
		if err != nil {
			return nil, err
		}
	} else {
		s.log.Info("no redis configured: round-robin counters, redirect counts and drains live in this process")
	}
	s.mu.Lock()
	s.openGeo(cfg)
	s.mu.Unlock()
	s.monitor = feedback.New(feedback.Options{Log: s.log, Store: s.store, OnChange: s.rebuild})
	if err := s.monitor.Configure(cfg); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.install(cfg)
	return s, nil
}

// Config returns the configuration being served.
func (s *Server) Config() *config.Config { return s.gen.Load().cfg }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.gen.Load().engine.ServeHTTP(w, r)
}

// Reload reads the configuration file again. A file with errors is
// rejected, with every error, and the current configuration keeps serving.
func (s *Server) Reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cfg, err := config.Load(s.opts.ConfigPath, s.opts.Overrides)
	if err != nil {
		s.reloadsFailed.Add(1)
		s.log.Error("reload rejected; keeping the current configuration", "file", s.opts.ConfigPath, "err", err.Error())
		return err
	}
	old := s.gen.Load().cfg
	if cfg.Listen != old.Listen {
		s.log.Warn("listen address changed; restart to apply", "listen", old.Listen, "configured", cfg.Listen)
	}
	if cfg.Redis != old.Redis || cfg.RedisPrefix != old.RedisPrefix {
		s.log.Warn("redis settings changed; restart to apply")
	}
	if err := s.monitor.Configure(cfg); err != nil {
		s.reloadsFailed.Add(1)
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cfg.GeoIP != old.GeoIP {
		s.openGeo(cfg)
	}
	s.install(cfg)
	s.reloadsOK.Add(1)
	s.log.Info("configuration reloaded", "file", cfg.File, "config_sha256", cfg.SHA256, "pools", len(cfg.Pools))
	return nil
}

// install builds and publishes a generation for cfg. Callers hold s.mu.
func (s *Server) install(cfg *config.Config) {
	g := &generation{cfg: cfg, state: new(strategy.State), loaded: time.Now(), geo: s.geo}
	for _, p := range cfg.Pools {
		g.pools = append(g.pools, handlers.Pool{
			Name: p.Name, Strategy: p.Strategy, Routes: p.Routes,
			Fallback: p.Fallback, AppendPath: p.Appends(), Locate: p.Strategy == config.Geo,
		})
		row := make([]*atomic.Uint64, len(p.Mirrors))
		for j, m := range p.Mirrors {
			row[j] = s.counter(mirrorKey{Pool: p.Name, Mirror: m.Name})
		}
		g.counts = append(g.counts, row)
		nm := s.noMirror[p.Name]
		if nm == nil {
			nm = new(atomic.Uint64)
			s.noMirror[p.Name] = nm
		}
		g.noMirror = append(g.noMirror, nm)
	}
	g.state.Store(s.snapshot(cfg))
	g.engine = handlers.New(handlers.Options{
		Log:        s.log,
		State:      g.state,
		Pools:      g.pools,
		Trusted:    cfg.Trusted,
		Locator:    g.locator(),
		Counts:     g.counts,
		NoMirror:   g.noMirror,
		Operator:   s,
		AdminToken: s.opts.AdminToken,
		Dashboard:  s.opts.Dashboard,
		AccessLog:  s.opts.AccessLog,
	})
	s.gen.Store(g)
}

func (s *Server) counter(k mirrorKey) *atomic.Uint64 {
	c := s.counts[k]
	if c == nil {
		c = new(atomic.Uint64)
		s.counts[k] = c
	}
	return c
}

// sequence returns the round-robin sequence of a pool, created once.
func (s *Server) sequence(pool string) strategy.Sequence {
	if s.store != nil {
		return s.store.Sequence(pool)
	}
	seq := s.seqs[pool]
	if seq == nil {
		seq = new(strategy.LocalSequence)
		s.seqs[pool] = seq
	}
	return seq
}

// snapshot builds the pools of cfg with the current effective weights.
// Callers hold s.mu.
func (s *Server) snapshot(cfg *config.Config) *strategy.Snapshot {
	s.version++
	snap := &strategy.Snapshot{Version: s.version, Built: time.Now()}
	now := time.Now()
	var ramp time.Duration
	if cfg.Health != nil {
		ramp = time.Duration(cfg.Health.RampUp)
	}
	for _, p := range cfg.Pools {
		ms := make([]strategy.Mirror, len(p.Mirrors))
		usable := false
		for j := range p.Mirrors {
			ms[j] = s.mirror(p.Name, &p.Mirrors[j], now, ramp)
			usable = usable || ms[j].Effective > 0
		}
		if !usable {
			s.unsaturate(p.Name, p.Mirrors, ms, now, ramp)
		}
		snap.Pools = append(snap.Pools, strategy.NewPool(strategy.PoolSpec{
			Name:       p.Name,
			Strategy:   newStrategy(p.Strategy),
			Mirrors:    ms,
			Seq:        s.sequence(p.Name),
			IPv4Prefix: p.IPv4Prefix,
			IPv6Prefix: p.IPv6Prefix,
		}))
	}
	return snap
}

// mirror turns a configured mirror into its strategy view with its
// effective weight: weight × enabled × health × headroom.
func (s *Server) mirror(pool string, m *config.Mirror, now time.Time, ramp time.Duration) strategy.Mirror {
	sm := strategy.Mirror{
		Name:      m.Name,
		URL:       m.URL,
		Country:   m.Country,
		Continent: m.Continent,
		Countries: m.Countries,
		Weight:    m.ConfiguredWeight(),
		HTTPS:     isHTTPS(m),
		IPv6:      hasIPv6(m),
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
	if s.enabled(pool, m) {
		sm.Effective = sm.Weight
		if st, ok := s.monitor.State(mirrorKey{Pool: pool, Mirror: m.Name}); ok {
			sm.Effective *= st.Factor(now, ramp)
		}
	}
	return sm
}

// unsaturate gives the mirrors of a pool that are up and enabled but
// saturated (headroom 0) the floor weight when no mirror of the pool is
// usable otherwise: a busy pool sends clients somewhere rather than to
// its fallback or a 503.
func (s *Server) unsaturate(pool string, cms []config.Mirror, ms []strategy.Mirror, now time.Time, ramp time.Duration) {
	for j := range cms {
		m := &cms[j]
		st, ok := s.monitor.State(mirrorKey{Pool: pool, Mirror: m.Name})
		if !ok || !s.enabled(pool, m) || (st.Probed && !st.Up) || !st.Polled || st.Headroom > 0 {
			continue
		}
		st.Headroom = feedback.DefaultLaw.Floor
		ms[j].Effective = ms[j].Weight * st.Factor(now, ramp)
	}
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

func isHTTPS(m *config.Mirror) bool {
	if m.HTTPS != nil {
		return *m.HTTPS
	}
	return len(m.URL) >= 8 && m.URL[:8] == "https://"
}

// enabled reports whether a mirror is enabled in the file and not drained.
func (s *Server) enabled(pool string, m *config.Mirror) bool {
	return m.IsEnabled() && !s.drained[mirrorKey{Pool: pool, Mirror: m.Name}]
}

// rebuild publishes a fresh snapshot of the current generation.
func (s *Server) rebuild() {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.gen.Load()
	g.state.Store(s.snapshot(g.cfg))
}

// SetEnabled implements handlers.Operator: drain or re-enable a mirror. A
// drain holds across reloads until the mirror is enabled again.
func (s *Server) SetEnabled(ctx context.Context, pool, mirror string, enabled bool) error {
	g := s.gen.Load()
	if !hasMirror(g.cfg, pool, mirror) {
		return fmt.Errorf("pool %q mirror %q: %w", pool, mirror, handlers.ErrNotFound)
	}
	k := mirrorKey{Pool: pool, Mirror: mirror}
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

func newStrategy(name string) strategy.Strategy {
	switch name {
	case config.RoundRobin:
		return new(strategy.RoundRobin)
	case config.IPHash:
		return new(strategy.IPHash)
	case config.Geo:
		return new(strategy.Geo)
	default:
		return new(strategy.Random)
	}
}

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
	} else if g.cfg.GeoIP != "" {
		st.GeoIP = g.cfg.GeoIP + " (cannot be opened)"
	}
	if s.store != nil {
		st.Redis.Connected = s.store.Connected()
		st.Redis.Fallbacks, _, _ = s.store.Stats()
		if !st.Redis.Connected {
			st.Redis.Error = s.store.LastError()
		}
	}
	for i, cp := range g.cfg.Pools {
		p := snap.Pools[i]
		ps := handlers.PoolStatus{Name: cp.Name, Strategy: cp.Strategy, Routes: cp.Routes, Fallback: cp.Fallback, Usable: p.Usable()}
		for j := range cp.Mirrors {
			m := &p.Mirrors[j]
			ms := handlers.MirrorStatus{
				Name:            m.Name,
				URL:             m.URL,
				Country:         m.Country,
				Continent:       m.Continent,
				Enabled:         s.enabledNow(cp.Name, &cp.Mirrors[j]),
				Up:              true,
				Weight:          m.Weight,
				EffectiveWeight: m.Effective,
				Redirects:       s.redirects(mirrorKey{Pool: cp.Name, Mirror: m.Name}, g.counts[i][j]),
			}
			if fs, ok := s.monitor.State(mirrorKey{Pool: cp.Name, Mirror: m.Name}); ok {
				ms.Up = !fs.Probed || fs.Up
				ms.LastProbe, ms.ProbeError = timePtr(fs.LastProbe), fs.ProbeError
				ms.BandwidthBps, ms.CapacityBps, ms.Utilization = fs.BandwidthBps, fs.CapacityBps, fs.Utilization
				ms.LastPoll, ms.PollError = timePtr(fs.LastPoll), fs.PollError
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

// Start starts the background work (health probes, SNMP polls, the shared
// store). Stop ends it.
func (s *Server) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(ctx)
	s.monitor.Start(ctx)
	if s.store != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.syncLoop(ctx, s.syncEvery)
		}()
	}
	return nil
}

// Stop ends the background work started by Start, waits for it, and
// closes the store after a last flush of the counts.
func (s *Server) Stop() {
	if s.cancel != nil {
		s.cancel()
	}
	s.monitor.Stop()
	s.wg.Wait()
	if s.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s.syncShared(ctx)
		cancel()
		s.store.Close() //nolint:errcheck // closing connections at exit
	}
}

// CheckResources checks what the configuration names outside itself (the
// geo database) for -check.
func CheckResources(cfg *config.Config) error {
	if cfg.GeoIP == "" {
		return nil
	}
	db, err := geo.Open(cfg.GeoIP)
	if err != nil {
		return config.Errors{{File: cfg.File, Path: "geoip", Msg: err.Error()}}
	}
	return db.Close()
}

// openGeo opens the configured geo database. Failure is not fatal: geo
// pools act as random, and the log says so once. Callers hold s.mu. The
// previous database is not closed: requests of the previous generation
// may still read it (its memory map stays until the process ends; a
// reload that changes the geoip path costs that much).
func (s *Server) openGeo(cfg *config.Config) {
	s.geo = nil
	hasGeo := false
	for _, p := range cfg.Pools {
		hasGeo = hasGeo || p.Strategy == config.Geo
	}
	if cfg.GeoIP == "" {
		if hasGeo {
			s.log.Warn("no geoip database configured: geo pools act as random (?country= still works)")
		}
		return
	}
	db, err := geo.Open(cfg.GeoIP)
	if err != nil {
		s.log.Error("geoip database cannot be opened: geo pools act as random", "err", err.Error())
		return
	}
	s.geo = db
	s.log.Info("geoip database opened", "file", cfg.GeoIP, "type", db.Type)
}

// locator is the generation's geo database, or the country table alone.
func (g *generation) locator() handlers.Locator {
	if g.geo != nil {
		return g.geo
	}
	return geo.Table{}
}
