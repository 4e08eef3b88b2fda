package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dispatcher/dispatcher/handlers"
)

// collector reads the served snapshot, the status and the counters at
// scrape time: the request path only bumps atomic counters it already
// has. Counters are this instance's own (Prometheus sums instances); the
// gauges show the snapshot being served.
type collector struct{ s *Server }

// desc builds the description of a family of this collector.
func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	pm = []string{"pool", "mirror"}

	descRedirects       = desc("dispatcher_redirects_total", "Redirects answered by this instance, by pool, mirror and strategy.", "pool", "mirror", "strategy")
	descLogDropped      = desc("dispatcher_log_dropped_total", "Log lines dropped because the log output did not keep up.")
	descNoMirror        = desc("dispatcher_no_mirror_total", "Requests answered with the fallback or 503 because no mirror was usable.", "pool")
	descUp              = desc("dispatcher_mirror_up", "1 when the mirror passes its health probes (or none are configured).", pm...)
	descEnabled         = desc("dispatcher_mirror_enabled", "1 when the mirror is enabled and not drained.", pm...)
	descWeight          = desc("dispatcher_mirror_weight", "Configured weight of the mirror.", pm...)
	descEffective       = desc("dispatcher_mirror_effective_weight", "Weight the strategy uses now: weight x health x headroom.", pm...)
	descBandwidth       = desc("dispatcher_mirror_bandwidth_bps", "Outbound bits per second measured over SNMP (0 when not polled).", pm...)
	descUtilization     = desc("dispatcher_mirror_utilization", "Smoothed outbound utilisation of the mirror's interface, 0 to 1.", pm...)
	descPollFailing     = desc("dispatcher_mirror_poll_failing", "1 while the mirror's last SNMP poll failed (its configured weight holds until stale_after); 0 otherwise.", pm...)
	descProbeFailing    = desc("dispatcher_mirror_probe_failing", "1 while the mirror's last health probe failed; 0 otherwise.", pm...)
	descUsable          = desc("dispatcher_pool_usable_mirrors", "Mirrors of the pool that can be picked now.", "pool")
	descHolderPools     = desc("dispatcher_pool_holder_sets", "Sets of a file's holders the served snapshot of a file-aware pool keeps a pool of (built in the background, at most 64).", "pool")
	descOriginFiles     = desc("dispatcher_files_origin_files", "Files in the origin of a file-aware pool (last good scan).", "pool")
	descScans           = desc("dispatcher_files_scans_total", "File scans this instance ran (with Redis, the lease holder scans).", "pool")
	descAdopted         = desc("dispatcher_files_adopted_total", "File scan results this instance took from the lease holder.", "pool")
	descChecks          = desc("dispatcher_files_checks_total", "HEAD checks of requested files this instance made (verify; with Redis, the lease holder checks).", "pool")
	descHeld            = desc("dispatcher_files_held", "Origin files a mirror holds (same size, mtime no older).", pm...)
	descMissing         = desc("dispatcher_files_missing", "Origin files a mirror's listing lacks.", pm...)
	descOutdated        = desc("dispatcher_files_outdated", "Origin files a mirror lists with another size or an older mtime.", pm...)
	descRedisConfigured = desc("dispatcher_redis_configured", "1 when a Redis URL is configured.")
	descRedisConnected  = desc("dispatcher_redis_connected", "1 while Redis answers; 0 while the in-process fallback serves.")
	descRedisFallbacks  = desc("dispatcher_redis_fallbacks_total", "Round-robin positions taken from the in-process counter because Redis did not answer in time.")
	descRedisTrips      = desc("dispatcher_redis_roundtrips_total", "INCRBY calls made for round-robin positions (one serves a whole batch).")
	descRedisPositions  = desc("dispatcher_redis_positions_total", "Round-robin positions obtained from Redis.")
	descShared          = desc("dispatcher_shared_redirects", "Fleet-wide redirects per mirror from Redis, plus this instance's unflushed ones.", pm...)
	descReloads         = desc("dispatcher_config_reloads_total", "Configuration reloads, by result.", "result")
	descVersion         = desc("dispatcher_snapshot_version", "Version of the snapshot being served; it grows on every rebuild.")
	descStart           = desc("dispatcher_start_time_seconds", "Start time of the process since the Unix epoch.")
	descBuild           = desc("dispatcher_build_info", "Always 1; the labels tell the version and the configuration checksum.", "version", "config_sha256")
	descDownloads       = desc("dispatcher_downloads_total", "Downloads counted by this instance for the statistics (GET 302s to a mirror that do not resume), by pool.", "pool")
	descStatsWritten    = desc("dispatcher_stats_written_total", "Downloads this instance wrote to the statistics (Redis, or in process).")
	descStatsUnkeyed    = desc("dispatcher_stats_unkeyed_total", "Downloads written without their file, because a batch already held stats.files distinct files of the pool and day; they are in every total and in other.")
	descStatsHeld       = desc("dispatcher_stats_held", "Downloads counted and not written yet because the last write failed (they are written when Redis answers).")
	descStatsErrors     = desc("dispatcher_stats_write_errors_total", "Writes of the statistics that failed (what they held is written later).")

	allDescs = []*prometheus.Desc{descRedirects, descLogDropped, descNoMirror, descUp, descEnabled, descWeight,
		descEffective, descBandwidth, descUtilization, descPollFailing, descProbeFailing, descUsable, descHolderPools, descOriginFiles, descScans, descAdopted,
		descChecks, descHeld, descMissing, descOutdated, descRedisConfigured, descRedisConnected,
		descRedisFallbacks, descRedisTrips, descRedisPositions, descShared, descReloads, descVersion,
		descStart, descBuild, descDownloads, descStatsWritten, descStatsUnkeyed, descStatsHeld, descStatsErrors}
)

// Describe implements prometheus.Collector.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	g := s.gen.Load()
	snap := g.state.Load()
	st := s.Status()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}

	for _, cp := range g.cfg.Pools {
		p := snap.Pool(cp.Name)
		if p == nil {
			continue
		}
		for _, cm := range cp.Mirrors {
			if m := p.Find(cm.Name); m != nil && m.Redirects != nil {
				counter(descRedirects, m.Redirects.Load(), cp.Name, cm.Name, cp.Strategy)
			}
		}
		if p.Unserved != nil {
			counter(descNoMirror, p.Unserved.Load(), cp.Name)
		}
	}
	if s.opts.LogDropped != nil {
		counter(descLogDropped, s.opts.LogDropped())
	}
	for _, p := range st.Pools {
		for _, m := range p.Mirrors {
			gauge(descUp, b2f(m.Up), p.Name, m.Name)
			gauge(descEnabled, b2f(m.Enabled), p.Name, m.Name)
			gauge(descWeight, float64(m.Weight), p.Name, m.Name)
			gauge(descEffective, m.EffectiveWeight, p.Name, m.Name)
			gauge(descBandwidth, m.BandwidthBps, p.Name, m.Name)
			gauge(descUtilization, m.Utilization, p.Name, m.Name)
			gauge(descPollFailing, b2f(m.PollError != ""), p.Name, m.Name)
			gauge(descProbeFailing, b2f(m.ProbeError != ""), p.Name, m.Name)
		}
	}
	for _, p := range snap.Pools {
		gauge(descUsable, float64(p.Usable()), p.Name)
		gauge(descHolderPools, float64(p.HolderPools()), p.Name)
	}
	collectFiles(st, counter, gauge)
	s.collectRedis(st, counter, gauge)
	counter(descReloads, s.reloadsOK.Load(), "success")
	counter(descReloads, s.reloadsFailed.Load(), "failure")
	gauge(descVersion, float64(snap.Version))
	gauge(descStart, float64(s.started.UnixNano())/1e9)
	gauge(descBuild, 1, s.opts.Version, g.cfg.SHA256)
	for pool, n := range s.stats.Counted() {
		counter(descDownloads, n, pool)
	}
	counter(descStatsWritten, s.stats.Written())
	counter(descStatsUnkeyed, s.stats.Unkeyed())
	gauge(descStatsHeld, float64(s.stats.Held()))
	counter(descStatsErrors, s.stats.Errors())
}

type (
	counterFunc func(d *prometheus.Desc, v uint64, labels ...string)
	gaugeFunc   func(d *prometheus.Desc, v float64, labels ...string)
)

// collectFiles collects what file-aware pools know of their files.
func collectFiles(st *handlers.Status, counter counterFunc, gauge gaugeFunc) {
	for _, p := range st.Pools {
		if p.Files == nil {
			continue
		}
		gauge(descOriginFiles, float64(p.Files.OriginFiles), p.Name)
		counter(descScans, p.Files.ScansHere, p.Name)
		counter(descAdopted, p.Files.Adopted, p.Name)
		counter(descChecks, p.Files.ChecksHere, p.Name)
		for _, m := range p.Mirrors {
			if f := m.Files; f != nil {
				gauge(descHeld, float64(f.Held), p.Name, m.Name)
				gauge(descMissing, float64(f.Missing), p.Name, m.Name)
				gauge(descOutdated, float64(f.Outdated), p.Name, m.Name)
			}
		}
	}
}

// collectRedis collects the state of the shared store.
func (s *Server) collectRedis(st *handlers.Status, counter counterFunc, gauge gaugeFunc) {
	gauge(descRedisConfigured, b2f(st.Redis.Configured))
	gauge(descRedisConnected, b2f(st.Redis.Connected))
	counter(descRedisFallbacks, st.Redis.Fallbacks)
	if s.store == nil {
		return
	}
	_, trips, positions := s.store.Stats()
	counter(descRedisTrips, trips)
	counter(descRedisPositions, positions)
	for _, p := range st.Pools {
		for _, m := range p.Mirrors {
			gauge(descShared, float64(m.Redirects), p.Name, m.Name)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
