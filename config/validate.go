package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dispatcher/dispatcher/geo/countries"
	"github.com/dispatcher/dispatcher/internal/glob"
)

func (cfg *Config) validate(c *collector) {
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		c.add("listen", "must be host:port or :port, got %q", cfg.Listen)
	}
	if cfg.RedisTimeout <= 0 || time.Duration(cfg.RedisTimeout) > 10*time.Second {
		c.add("redis_timeout", "must be more than 0 and at most 10s, got %s", time.Duration(cfg.RedisTimeout))
	}
	if cfg.RedisPrefix != "" && strings.ContainsAny(cfg.RedisPrefix, " \t\r\n") {
		c.add("redis_prefix", "must not contain white space, got %q", cfg.RedisPrefix)
	}
	for i, s := range cfg.TrustedProxies {
		p, err := parsePrefix(s)
		if err != nil {
			c.add(fmt.Sprintf("trusted_proxies[%d]", i), "must be an IP address or CIDR prefix, got %q", s)
			continue
		}
		cfg.Trusted = append(cfg.Trusted, p)
	}
	if h := cfg.Health; h != nil {
		checkSchedule(c, "health.schedule", h.Schedule)
		if !strings.HasPrefix(h.Path, "/") {
			c.add("health.path", "must start with /, got %q", h.Path)
		}
		if h.Method != "GET" && h.Method != "HEAD" {
			c.add("health.method", "must be GET or HEAD, got %q", h.Method)
		}
		if h.Timeout <= 0 {
			c.add("health.timeout", "must be positive")
		}
		windowOK := h.Window >= 1 && h.Window <= 64
		if !windowOK {
			c.add("health.window", "must be between 1 and 64, got %d", h.Window)
		}
		switch {
		case h.Threshold == thresholdUnset:
			// Absent, and the window is below its default (or wrong).
			if windowOK {
				c.add("health.window", "%d is less than the default threshold %d: set health.threshold too (1 to %d)",
					h.Window, DefaultHealthThreshold, h.Window)
			}
		case h.Threshold < 1:
			c.add("health.threshold", "must be at least 1, got %d", h.Threshold)
		case windowOK && h.Threshold > h.Window:
			c.add("health.threshold", "must be between 1 and window (%d), got %d", h.Window, h.Threshold)
		}
		if h.RampUp < 0 {
			c.add("health.ramp_up", "must not be negative")
		}
	}
	if s := cfg.Stats; s != nil && s.Enabled {
		if time.Duration(s.Retention) < 24*time.Hour || time.Duration(s.Retention) > 3660*24*time.Hour {
			c.add("stats.retention", "must be between 1d and 3660d, got %s", time.Duration(s.Retention))
		}
		if s.Files < 1 || s.Files > MaxStatsFiles {
			c.add("stats.files", "must be between 1 and %d, got %d", MaxStatsFiles, s.Files)
		}
	}
	if f := cfg.Feedback; f != nil {
		checkSchedule(c, "feedback.schedule", f.Schedule)
		if f.Timeout <= 0 {
			c.add("feedback.timeout", "must be positive")
		}
		if f.Retries < 0 || f.Retries > 10 {
			c.add("feedback.retries", "must be between 0 and 10, got %d", f.Retries)
		}
		if f.StaleAfter < 0 {
			c.add("feedback.stale_after", "must not be negative (0: never)")
		}
	}
	if len(cfg.Pools) == 0 {
		c.add("pools", "at least one pool is required")
	}
	names := map[string]int{}
	for i := range cfg.Pools {
		p := &cfg.Pools[i]
		path := fmt.Sprintf("pools[%d]", i)
		checkName(c, path+".name", p.Name, "pool", "pools", names, i)
		p.validate(c, path)
		for j, m := range p.Mirrors {
			if len(m.ASN) > 0 && cfg.ASNDB == "" {
				c.add(fmt.Sprintf("%s.mirrors[%d].asn", path, j), "needs asn_db at the top level: an mmdb of AS numbers such as the shipped \"data/asn.mmdb\"")
			}
		}
	}
	checkRoutes(c, cfg.Pools)
}

func (p *Pool) validate(c *collector, path string) {
	switch p.Strategy {
	case Random, RoundRobin, IPHash, Geo:
	default:
		c.add(path+".strategy", "unknown strategy %q (want random, roundrobin, iphash or geo)", p.Strategy)
	}
	if len(p.Routes) == 0 {
		c.add(path+".routes", "at least one route is required")
	}
	if p.Fallback != "" {
		if err := checkURL(p.Fallback, true); err != nil {
			c.add(path+".fallback", "%v", err)
		}
	}
	if p.IPv4Prefix < 1 || p.IPv4Prefix > 32 {
		c.add(path+".ipv4_prefix", "must be between 1 and 32, got %d", p.IPv4Prefix)
	}
	if p.IPv6Prefix < 1 || p.IPv6Prefix > 128 {
		c.add(path+".ipv6_prefix", "must be between 1 and 128, got %d", p.IPv6Prefix)
	}
	if len(p.Mirrors) == 0 {
		c.add(path+".mirrors", "at least one mirror is required")
	}
	if f := p.Files; f != nil {
		f.validate(c, path+".files", p)
	}
	names := map[string]int{}
	for j := range p.Mirrors {
		m := &p.Mirrors[j]
		mpath := fmt.Sprintf("%s.mirrors[%d]", path, j)
		checkName(c, mpath+".name", m.Name, "mirror", "mirrors", names, j)
		m.validate(c, mpath, p.Appends())
		if m.Rsync != "" {
			if p.Files == nil {
				c.add(mpath+".rsync", "needs the pool's files (a listing is compared with the origin)")
			} else if err := CheckRsyncURL(m.Rsync); err != nil {
				c.add(mpath+".rsync", "%v", err)
			}
		}
		switch m.Scan {
		case "":
		case ScanRsync:
			if m.Rsync == "" {
				c.add(mpath+".scan", `is "rsync", but the mirror has no rsync URL`)
			}
		case ScanHTTP:
			if p.Files == nil {
				c.add(mpath+".scan", "needs the pool's files (a listing is compared with the origin)")
			}
		default:
			c.add(mpath+".scan", `must be "rsync" or "http", got %q`, m.Scan)
		}
	}
}

func (f *Files) validate(c *collector, path string, p *Pool) {
	if f.HTTPRate <= 0 || f.HTTPRate > 1000 {
		c.add(path+".http_rate", "must be more than 0 and at most 1000 requests a second, got %g", f.HTTPRate)
	}
	switch {
	case f.Origin == "":
		c.add(path+".origin", "is required (a directory or rsync://host/module)")
	case f.OriginIsRsync():
		if err := CheckRsyncURL(f.Origin); err != nil {
			c.add(path+".origin", "%v", err)
		}
		if f.Hashes {
			c.add(path+".hashes", "needs a directory origin (files are hashed where they are read)")
		}
	case strings.Contains(f.Origin, "://"):
		c.add(path+".origin", "must be a directory or an rsync:// URL, got %q", f.Origin)
	}
	checkSchedule(c, path+".schedule", f.Schedule)
	switch f.Unknown {
	case UnknownAny, Unknown404:
	case UnknownFallback:
		if p.Fallback == "" {
			c.add(path+".unknown", "is fallback, but the pool has no fallback")
		}
	default:
		c.add(path+".unknown", "must be any, fallback or 404, got %q", f.Unknown)
	}
	if f.Timeout <= 0 {
		c.add(path+".timeout", "must be positive")
	}
	if !p.Appends() {
		c.add(path, "needs append_path (the request path names the file)")
	}
	if f.OriginURL != "" {
		if err := checkURL(f.OriginURL, false); err != nil {
			c.add(path+".origin_url", "%v", err)
		}
	}
	for k, s := range f.OriginPaths {
		g, err := glob.Compile(s)
		if err != nil {
			c.add(fmt.Sprintf("%s.origin_paths[%d]", path, k), "%v", err)
			continue
		}
		f.OriginGlobs = append(f.OriginGlobs, g)
	}
	if len(f.OriginPaths) > 0 && f.OriginURL == "" {
		c.add(path+".origin_paths", "needs origin_url (where those paths are sent)")
	}
	switch {
	case f.MinSize < 0:
		c.add(path+".min_size", "must not be negative, got %d", f.MinSize)
	case f.MinSize > 0 && f.OriginURL == "":
		c.add(path+".min_size", "needs origin_url (where the smaller files are sent)")
	}
}

// CheckRsyncURL accepts rsync://host[:port]/module[/path] without
// credentials, query or fragment. Its errors do not repeat the URL, which
// could hold a password.
func CheckRsyncURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme != "rsync" || u.Host == "":
		return errors.New("must be rsync://host[:port]/module[/path]")
	case u.User != nil:
		return errors.New("must not contain credentials (the value is not repeated here)")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("must not contain a query or fragment")
	case strings.Trim(u.Path, "/") == "":
		return errors.New("must name a module: rsync://host[:port]/module[/path]")
	case strings.ContainsAny(s, " \t\r\n\\"):
		return errors.New("must not contain spaces, control characters or backslashes")
	}
	return nil
}

func (m *Mirror) validate(c *collector, path string, appendPath bool) {
	if err := checkURL(m.URL, !appendPath); err != nil {
		c.add(path+".url", "%v", err)
	}
	if m.HealthURL != "" {
		if err := checkURL(m.HealthURL, true); err != nil {
			c.add(path+".health_url", "%v", err)
		}
	}
	if m.Country != "" && !isCountryCode(m.Country) {
		c.add(path+".country", "must be an ISO 3166-1 alpha-2 code such as \"DE\", got %q", m.Country)
	}
	for k, cc := range m.Countries {
		if !isCountryCode(cc) {
			c.add(fmt.Sprintf("%s.countries[%d]", path, k), "must be an ISO 3166-1 alpha-2 code, got %q", cc)
		}
	}
	if m.Continent != "" && !isContinentCode(m.Continent) {
		c.add(path+".continent", "must be one of AF, AN, AS, EU, NA, OC, SA, got %q", m.Continent)
	}
	if (m.Lat == nil) != (m.Lon == nil) {
		c.add(path, "lat and lon must be given together")
	}
	if m.Lat != nil && (math.IsNaN(*m.Lat) || *m.Lat < -90 || *m.Lat > 90) {
		c.add(path+".lat", "must be between -90 and 90")
	}
	if m.Lon != nil && (math.IsNaN(*m.Lon) || *m.Lon < -180 || *m.Lon > 180) {
		c.add(path+".lon", "must be between -180 and 180")
	}
	if w := m.ConfiguredWeight(); w < 0 || w > 1e6 || math.IsNaN(w) {
		c.add(path+".weight", "must be between 0 and 1000000, got %v", w)
	}
	if m.BandwidthMbps < 0 || m.BandwidthMbps > 1e7 {
		c.add(path+".bandwidth_mbps", "must be between 0 and 10000000, got %v", m.BandwidthMbps)
	}
	if s := m.SNMP; s != nil {
		s.validate(c, path+".snmp")
	}
	m.validateReach(c, path)
}

// validate checks an snmp block. Its messages never repeat a value: a
// community or password pasted into the wrong key would otherwise reach
// the log and the reload API's answer.
func (s *SNMP) validate(c *collector, path string) {
	if s.Target == "" {
		c.add(path+".target", "is required (host:port)")
	} else if _, port, err := net.SplitHostPort(s.Target); err != nil {
		c.add(path+".target", "must be host:port")
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		c.add(path+".target", "port must be 1-65535")
	}
	switch s.Version {
	case "1", "2c":
		if s.Community == "" {
			c.add(path+".community", "is required for SNMP version %s", s.Version)
		}
	case "3":
		if s.User == "" {
			c.add(path+".user", "is required for SNMP version 3")
		}
		switch strings.ToUpper(s.AuthProtocol) {
		case "", "MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512":
		default:
			c.add(path+".auth_protocol", "must be MD5, SHA, SHA224, SHA256, SHA384 or SHA512")
		}
		switch strings.ToUpper(s.PrivProtocol) {
		case "", "DES", "AES", "AES192", "AES256":
		default:
			c.add(path+".priv_protocol", "must be DES, AES, AES192 or AES256")
		}
		if s.PrivProtocol != "" && s.AuthProtocol == "" {
			c.add(path+".priv_protocol", "needs auth_protocol too")
		}
	default:
		c.add(path+".version", "must be \"1\", \"2c\" or \"3\"")
	}
	if (s.Interface == "") == (s.IfIndex == 0) {
		c.add(path, "exactly one of interface (a name) or if_index is required")
	}
	if s.IfIndex < 0 {
		c.add(path+".if_index", "must be positive")
	}
}

// checkURL accepts an absolute http or https URL with a host and no
// credentials or fragment. A query is allowed only when withQuery is set
// (a mirror URL used as written, or a fallback).
func checkURL(s string, withQuery bool) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("must be an absolute http or https URL, got %q", s)
	}
	if strings.ContainsAny(s, " \t\r\n\\") {
		return fmt.Errorf("must not contain spaces, control characters or backslashes, got %q", s)
	}
	if u.User != nil {
		return errors.New("must not contain credentials (the value is not repeated here)")
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return fmt.Errorf("must not contain a fragment, got %q", s)
	}
	if !withQuery && (u.RawQuery != "" || u.ForceQuery) {
		return fmt.Errorf("must not contain a query when append_path is true, got %q", s)
	}
	return nil
}

func checkSchedule(c *collector, path, spec string) {
	if _, err := cron.ParseStandard(spec); err != nil {
		c.add(path, "bad cron spec %q: %v", spec, err)
	}
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// checkName reports a malformed name, or one already in names (the
// indexes of the names seen in the same list), and records a new one.
func checkName(c *collector, path, name, kind, list string, names map[string]int, index int) {
	switch j, dup := names[name]; {
	case !validName(name):
		c.add(path, "must be 1-64 letters, digits, '.', '_' or '-', got %q", name)
	case dup:
		c.add(path, "duplicate %s name %q (also %s[%d])", kind, name, list, j)
	default:
		names[name] = index
	}
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' ||
			ch == '.' || ch == '_' || ch == '-'
		if !ok {
			return false
		}
	}
	return true
}

func isCountryCode(s string) bool {
	_, ok := countries.Lookup(s)
	return ok
}

func isContinentCode(s string) bool {
	switch s {
	case "AF", "AN", "AS", "EU", "NA", "OC", "SA":
		return true
	}
	return false
}
