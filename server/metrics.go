package server

import (
	"bufio"
	"io"
	"strconv"
	"strings"

	"github.com/dispatcher/dispatcher/handlers"
)

// WriteMetrics implements handlers.Operator: the Prometheus text format.
// Counters are this instance's own (Prometheus sums instances); the gauges
// show the snapshot being served.
func (s *Server) WriteMetrics(w io.Writer) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	g := s.gen.Load()
	snap := g.state.Load()
	st := s.Status()

	family(bw, "dispatcher_redirects_total", "counter", "Redirects answered by this instance, by pool, mirror and strategy.")
	for _, cp := range g.cfg.Pools {
		p := snap.Pool(cp.Name)
		for _, cm := range cp.Mirrors {
			if m := p.Find(cm.Name); m != nil && m.Redirects != nil {
				sample(bw, "dispatcher_redirects_total", m.Redirects.Load(), "pool", cp.Name, "mirror", cm.Name, "strategy", cp.Strategy)
			}
		}
	}
	if s.opts.LogDropped != nil {
		family(bw, "dispatcher_log_dropped_total", "counter", "Log lines dropped because the log output did not keep up.")
		sample(bw, "dispatcher_log_dropped_total", s.opts.LogDropped())
	}
	family(bw, "dispatcher_no_mirror_total", "counter", "Requests answered with the fallback or 503 because no mirror was usable.")
	for _, cp := range g.cfg.Pools {
		if p := snap.Pool(cp.Name); p != nil && p.Unserved != nil {
			sample(bw, "dispatcher_no_mirror_total", p.Unserved.Load(), "pool", cp.Name)
		}
	}
	family(bw, "dispatcher_mirror_up", "gauge", "1 when the mirror passes its health probes (or none are configured).")
	for _, p := range st.Pools {
		for _, m := range p.Mirrors {
			sample(bw, "dispatcher_mirror_up", b2f(m.Up), "pool", p.Name, "mirror", m.Name)
		}
	}
	family(bw, "dispatcher_mirror_enabled", "gauge", "1 when the mirror is enabled and not drained.")
	for _, p := range st.Pools {
		for _, m := range p.Mirrors {
			sample(bw, "dispatcher_mirror_enabled", b2f(m.Enabled), "pool", p.Name, "mirror", m.Name)
		}
	}
	family(bw, "dispatcher_mirror_weight", "gauge", "Configured weight of the mirror.")
	for _, p := range st.Pools {
		for _, m := range p.Mirrors {
			sample(bw, "dispatcher_mirror_weight", m.Weight, "pool", p.Name, "mirror", m.Name)
		}
	}
	family(bw, "dispatcher_mirror_effective_weight", "gauge", "Weight the strategy uses now: weight x health x headroom.")
	for _, p := range st.Pools {
		for _, m := range p.Mirrors {
			sample(bw, "dispatcher_mirror_effective_weight", m.EffectiveWeight, "pool", p.Name, "mirror", m.Name)
		}
	}
	family(bw, "dispatcher_mirror_bandwidth_bps", "gauge", "Outbound bits per second measured over SNMP (0 when not polled).")
	for _, p := range st.Pools {
		for _, m := range p.Mirrors {
			sample(bw, "dispatcher_mirror_bandwidth_bps", m.BandwidthBps, "pool", p.Name, "mirror", m.Name)
		}
	}
	family(bw, "dispatcher_mirror_utilization", "gauge", "Smoothed outbound utilisation of the mirror's interface, 0 to 1.")
	for _, p := range st.Pools {
		for _, m := range p.Mirrors {
			sample(bw, "dispatcher_mirror_utilization", m.Utilization, "pool", p.Name, "mirror", m.Name)
		}
	}
	family(bw, "dispatcher_pool_usable_mirrors", "gauge", "Mirrors of the pool that can be picked now.")
	for _, p := range snap.Pools {
		sample(bw, "dispatcher_pool_usable_mirrors", p.Usable(), "pool", p.Name)
	}
	writeFilesMetrics(bw, st)
	s.writeRedisMetrics(bw, st)
	family(bw, "dispatcher_config_reloads_total", "counter", "Configuration reloads, by result.")
	sample(bw, "dispatcher_config_reloads_total", s.reloadsOK.Load(), "result", "success")
	sample(bw, "dispatcher_config_reloads_total", s.reloadsFailed.Load(), "result", "failure")
	family(bw, "dispatcher_snapshot_version", "gauge", "Version of the snapshot being served; it grows on every rebuild.")
	sample(bw, "dispatcher_snapshot_version", snap.Version)
	family(bw, "dispatcher_start_time_seconds", "gauge", "Start time of the process since the Unix epoch.")
	sample(bw, "dispatcher_start_time_seconds", float64(s.started.UnixNano())/1e9)
	family(bw, "dispatcher_build_info", "gauge", "Always 1; the labels tell the version and the configuration checksum.")
	sample(bw, "dispatcher_build_info", 1, "version", s.opts.Version, "config_sha256", g.cfg.SHA256)
}

func family(w *bufio.Writer, name, typ, help string) {
	w.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " " + typ + "\n")
}

// sample writes one line; labels are name, value pairs.
func sample[T uint64 | int | float64](w *bufio.Writer, name string, v T, labels ...string) {
	w.WriteString(name)
	if len(labels) > 0 {
		w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(labels[i] + `="` + labelEscaper.Replace(labels[i+1]) + `"`)
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	switch x := any(v).(type) {
	case uint64:
		w.WriteString(strconv.FormatUint(x, 10))
	case int:
		w.WriteString(strconv.Itoa(x))
	case float64:
		w.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	}
	w.WriteByte('\n')
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// writeFilesMetrics writes what file-aware pools know of their files.
func writeFilesMetrics(w *bufio.Writer, st *handlers.Status) {
	family(w, "dispatcher_files_origin_files", "gauge", "Files in the origin of a file-aware pool (last good scan).")
	for _, p := range st.Pools {
		if p.Files != nil {
			sample(w, "dispatcher_files_origin_files", p.Files.OriginFiles, "pool", p.Name)
		}
	}
	family(w, "dispatcher_files_scans_total", "counter", "File scans this instance ran (with Redis, the lease holder scans).")
	family(w, "dispatcher_files_adopted_total", "counter", "File scan results this instance took from the lease holder.")
	family(w, "dispatcher_files_checks_total", "counter", "HEAD checks of requested files this instance made (verify; with Redis, the lease holder checks).")
	for _, p := range st.Pools {
		if p.Files != nil {
			sample(w, "dispatcher_files_scans_total", p.Files.ScansHere, "pool", p.Name)
			sample(w, "dispatcher_files_adopted_total", p.Files.Adopted, "pool", p.Name)
			sample(w, "dispatcher_files_checks_total", p.Files.ChecksHere, "pool", p.Name)
		}
	}
	for _, f := range []struct {
		name, help string
		get        func(*handlers.MirrorFiles) int
	}{
		{"dispatcher_files_held", "Origin files a mirror holds (same size, mtime no older).", func(m *handlers.MirrorFiles) int { return m.Held }},
		{"dispatcher_files_missing", "Origin files a mirror's listing lacks.", func(m *handlers.MirrorFiles) int { return m.Missing }},
		{"dispatcher_files_outdated", "Origin files a mirror lists with another size or an older mtime.", func(m *handlers.MirrorFiles) int { return m.Outdated }},
	} {
		family(w, f.name, "gauge", f.help)
		for _, p := range st.Pools {
			for _, m := range p.Mirrors {
				if m.Files != nil {
					sample(w, f.name, f.get(m.Files), "pool", p.Name, "mirror", m.Name)
				}
			}
		}
	}
}

// writeRedisMetrics writes the state of the shared store.
func (s *Server) writeRedisMetrics(w *bufio.Writer, st *handlers.Status) {
	family(w, "dispatcher_redis_configured", "gauge", "1 when a Redis URL is configured.")
	sample(w, "dispatcher_redis_configured", b2f(st.Redis.Configured))
	family(w, "dispatcher_redis_connected", "gauge", "1 while Redis answers; 0 while the in-process fallback serves.")
	sample(w, "dispatcher_redis_connected", b2f(st.Redis.Connected))
	family(w, "dispatcher_redis_fallbacks_total", "counter", "Round-robin positions taken from the in-process counter because Redis did not answer in time.")
	sample(w, "dispatcher_redis_fallbacks_total", st.Redis.Fallbacks)
	if s.store == nil {
		return
	}
	_, trips, positions := s.store.Stats()
	family(w, "dispatcher_redis_roundtrips_total", "counter", "INCRBY calls made for round-robin positions (one serves a whole batch).")
	sample(w, "dispatcher_redis_roundtrips_total", trips)
	family(w, "dispatcher_redis_positions_total", "counter", "Round-robin positions obtained from Redis.")
	sample(w, "dispatcher_redis_positions_total", positions)
	family(w, "dispatcher_shared_redirects", "gauge", "Fleet-wide redirects per mirror from Redis, plus this instance's unflushed ones.")
	for _, p := range st.Pools {
		for _, m := range p.Mirrors {
			sample(w, "dispatcher_shared_redirects", m.Redirects, "pool", p.Name, "mirror", m.Name)
		}
	}
}
