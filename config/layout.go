package config

// packMirrorStrings lays out the URLs and names of each pool's mirrors in
// one string per pool, each mirror's URL followed by its name, in the
// pool's order. A redirect reads its mirror's URL and name: decoded one
// by one, they would lie strewn over the heap among everything else the
// file held, each on a cache line and a page of its own; packed, a pool of
// 1,000 mirrors keeps them in some 20 KB, and a mirror's two on one line.
// In scripts/loadtest.sh, alternating the two builds at 1,000 mirrors,
// the random pool's redirect cost 2.7% less CPU (15.21 → 14.80 µs).
func (cfg *Config) packMirrorStrings() {
	for i := range cfg.Pools {
		ms := cfg.Pools[i].Mirrors
		n := 0
		for j := range ms {
			n += len(ms[j].URL) + len(ms[j].Name)
		}
		b := make([]byte, 0, n)
		for j := range ms {
			b = append(b, ms[j].URL...)
			b = append(b, ms[j].Name...)
		}
		all := string(b)
		for j := range ms {
			u, name := len(ms[j].URL), len(ms[j].Name)
			ms[j].URL, ms[j].Name = all[:u], all[u:u+name]
			all = all[u+name:]
		}
	}
}
