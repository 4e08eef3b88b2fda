// Package server ties the dispatcher together: it loads the configuration,
// builds snapshots of the pools, serves them through the handlers, swaps in
// a new configuration on reload, and answers the operator endpoints.
package server

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/dispatcher/dispatcher/config"
	"github.com/dispatcher/dispatcher/feedback"
	"github.com/dispatcher/dispatcher/geo"
	"github.com/dispatcher/dispatcher/handlers"
	"github.com/dispatcher/dispatcher/stats"
	"github.com/dispatcher/dispatcher/store"
	"github.com/dispatcher/dispatcher/strategy"
)

// Options configure a Server.
type Options struct {
	ConfigPath string
	Overrides  config.Overrides
	Log        *slog.Logger
	AdminToken string
	// AccessLog writes one line per request; nil: no access log.
	AccessLog handlers.AccessLog
	Dashboard fs.FS
	Version   string
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
	metrics *metrics
	history *history
	// explained holds, by pool and mirror, the factors of the effective
	// weights of the snapshot built last (guarded by mu).
	explained map[string]map[string]handlers.WeightFactors

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
	seqs     map[string]strategy.Sequence       // by pool name; survive reloads
	counts   map[store.MirrorKey]*atomic.Uint64 // redirects, by pool and mirror
	unserved map[string]*atomic.Uint64          // answers without a mirror, by pool
	drained  map[store.MirrorKey]bool           // set by the admin API
	// serving is whether each mirror served (up and enabled) in the
	// snapshot built last: one that serves again has its files listed
	// again (relistReturning).
	serving map[store.MirrorKey]bool

	reloadsOK, reloadsFailed atomic.Uint64

	// store is nil when no Redis is configured.
	store *store.Store
	// stats counts downloads, into Redis with a store, else in process;
	// it lives across reloads (stats.enabled false: routes do not count).
	stats *stats.Recorder
	// monitor runs the health probes and SNMP polls.
	monitor *feedback.Monitor
	// geo is the open geo database (nil when none is configured). Guarded
	// by mu; requests use their generation's.
	geo *geo.DB
	// asn is the open ASN database (nil when none is configured), as geo.
	asn *geo.ASNDB
	// shared redirect counts: fleet totals read from Redis, and how much
	// of each local counter has been added to them. Guarded by mu.
	sharedCounts map[store.MirrorKey]uint64
	flushed      map[store.MirrorKey]uint64
	// scanners are the file scanners of the file-aware pools, by pool
	// name; runCtx is Start's context (nil before Start). Guarded by mu.
	scanners map[string]*poolScanner
	runCtx   context.Context
	// pendingDrains are admin changes not yet written to Redis.
	pendingDrains map[store.MirrorKey]bool
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
	// prepareKick wakes the preparer of the holders' pools (prepare.go);
	// prepared counts its runs.
	prepareKick chan struct{}
	prepared    atomic.Uint64
}

// generation is one loaded configuration with everything built from it.
// Only state changes after it is published.
type generation struct {
	cfg    *config.Config
	engine *gin.Engine
	state  *strategy.State
	loaded time.Time
	// geo is the geo database this generation locates clients with (nil:
	// none configured), asn its ASN database (nil: none).
	geo *geo.DB
	asn *geo.ASNDB
}

// statsFinalWrite bounds the last write of the statistics at Stop.
const statsFinalWrite = 2 * time.Second

// statsLimits are the stats package's limits of a configuration.
func statsLimits(c *config.Stats) stats.Limits {
	return stats.Limits{Files: c.Files, Summary: stats.SummaryFor(c.Files), Retention: time.Duration(c.Retention)}
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
		counts:   map[store.MirrorKey]*atomic.Uint64{},
		unserved: map[string]*atomic.Uint64{},
		drained:  map[store.MirrorKey]bool{},
		serving:  map[store.MirrorKey]bool{},

		prepareKick: make(chan struct{}, 1),

		sharedCounts:  map[store.MirrorKey]uint64{},
		flushed:       map[store.MirrorKey]uint64{},
		pendingDrains: map[store.MirrorKey]bool{},
		syncEvery:     500 * time.Millisecond,
		scanners:      map[string]*poolScanner{},
	}
	cfg, err := Load(opts.ConfigPath, opts.Overrides)
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
	var downloads stats.Backend = stats.NewMemory()
	if s.store != nil {
		downloads = s.store.Downloads()
	}
	s.stats = stats.NewRecorder(downloads, statsLimits(cfg.Stats), s.log)
	s.mu.Lock()
	err = s.openGeo(cfg)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.metrics = newMetrics(s)
	s.history = newHistory(historyEvery)
	s.monitor = feedback.New(feedback.Options{Log: s.log, Store: s.store, OnChange: s.rebuild, Observe: s.metrics.observeFeedback})
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
	cfg, err := Load(s.opts.ConfigPath, s.opts.Overrides)
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
	s.mu.Lock()
	prevGeo, prevASN := s.geo, s.asn
	if cfg.GeoIP != old.GeoIP || cfg.ASNDB != old.ASNDB {
		err = s.openGeo(cfg)
	}
	s.mu.Unlock()
	if err != nil {
		s.reloadsFailed.Add(1)
		s.log.Error("reload rejected; keeping the current configuration", "file", s.opts.ConfigPath, "err", err.Error())
		return err
	}
	if err := s.monitor.Configure(cfg); err != nil {
		s.mu.Lock()
		s.geo, s.asn = prevGeo, prevASN
		s.mu.Unlock()
		s.reloadsFailed.Add(1)
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.install(cfg)
	s.reloadsOK.Add(1)
	s.log.Info("configuration reloaded", "file", cfg.File, "config_sha256", cfg.SHA256, "pools", len(cfg.Pools))
	return nil
}

// install builds and publishes a generation for cfg. Callers hold s.mu.
func (s *Server) install(cfg *config.Config) {
	g := &generation{cfg: cfg, state: new(strategy.State), loaded: time.Now(), geo: s.geo, asn: s.asn}
	s.syncScanners(cfg)
	routes := make([]handlers.Route, 0, len(cfg.Pools))
	for _, p := range cfg.Pools {
		r := handlers.Route{
			Pool: p.Name, Strategy: p.Strategy, Paths: p.Routes,
			Fallback: p.Fallback, AppendPath: p.Appends(),
			Ruled: p.RuledByPlace(), NeedsASN: p.NamesASNs(),
		}
		r.Locate = p.Strategy == config.Geo || r.Ruled
		r.Duration = s.metrics.requestDuration.WithLabelValues(p.Name)
		if ps := s.scanners[p.Name]; ps != nil {
			r.Files, r.Unknown = ps.scan, p.Files.Unknown
			r.OriginURL, r.OriginPaths, r.MinSize = p.Files.OriginURL, p.Files.OriginGlobs, p.Files.MinSize
			if ps.verify != nil {
				r.Verify = ps.verify
			}
		}
		routes = append(routes, r)
	}
	g.state.Store(s.snapshot(cfg))
	s.kickPrepare()
	var rec *stats.Recorder
	if cfg.Stats.Enabled {
		rec = s.stats
		rec.SetLimits(statsLimits(cfg.Stats))
	}
	g.engine = handlers.New(handlers.Options{
		Stats:      rec,
		Log:        s.log,
		State:      g.state,
		Routes:     routes,
		Trusted:    cfg.Trusted,
		Locator:    g.locator(),
		ASN:        g.asnLookup(),
		Operator:   s,
		AdminToken: s.opts.AdminToken,
		Dashboard:  s.opts.Dashboard,
		AccessLog:  s.opts.AccessLog,
	})
	s.gen.Store(g)
}

// counter returns the redirect counter of a mirror, created once: it
// survives snapshots and reloads. Callers hold s.mu.
func (s *Server) counter(k store.MirrorKey) *atomic.Uint64 {
	c := s.counts[k]
	if c == nil {
		c = new(atomic.Uint64)
		s.counts[k] = c
	}
	return c
}

// unservedCounter returns the counter of a pool's answers without a
// mirror, created once. Callers hold s.mu.
func (s *Server) unservedCounter(pool string) *atomic.Uint64 {
	c := s.unserved[pool]
	if c == nil {
		c = new(atomic.Uint64)
		s.unserved[pool] = c
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

// rebuild publishes a fresh snapshot of the current generation.
func (s *Server) rebuild() {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.gen.Load()
	g.state.Store(s.snapshot(g.cfg))
	s.kickPrepare()
}

// Start starts the background work (health probes, SNMP polls, the shared
// store). Stop ends it.
func (s *Server) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(ctx)
	s.monitor.Start(ctx)
	s.mu.Lock()
	s.startScanners(ctx)
	s.mu.Unlock()
	if s.store != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.syncLoop(ctx, s.syncEvery)
		}()
	}
	s.wg.Add(3)
	go func() {
		defer s.wg.Done()
		s.history.run(ctx, s.historyStatus)
	}()
	go func() {
		defer s.wg.Done()
		// Ends with ctx, after one last write (before the store closes).
		s.stats.Run(ctx, statsFinalWrite)
	}()
	go func() {
		defer s.wg.Done()
		s.prepareLoop(ctx)
	}()
	s.kickPrepare()
	return nil
}

// Stop ends the background work started by Start, waits for it, and
// closes the store after a last flush of the counts.
func (s *Server) Stop() {
	if s.cancel != nil {
		s.cancel()
	}
	s.monitor.Stop()
	s.mu.Lock()
	s.stopScanners()
	s.runCtx = nil
	s.mu.Unlock()
	s.wg.Wait()
	if s.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s.syncShared(ctx)
		cancel()
		s.store.Close() //nolint:errcheck // closing connections at exit
	}
}
