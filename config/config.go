// Package config reads and checks mirrors.json, the dispatcher's one
// configuration file. Load reports every problem at once, each with the file
// name and the JSON path of the offending value.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dispatcher/dispatcher/geo"
)

// Strategy names accepted in pools[].strategy.
const (
	Random     = "random"
	RoundRobin = "roundrobin"
	IPHash     = "iphash"
	Geo        = "geo"
)

// Defaults applied by Load when a key is absent.
const (
	DefaultListen          = ":8080"
	DefaultHealthSchedule  = "@every 5s"
	DefaultHealthPath      = "/"
	DefaultHealthTimeout   = 2 * time.Second
	DefaultHealthWindow    = 5
	DefaultHealthThreshold = 3
	DefaultRampUp          = 30 * time.Second
	DefaultFeedbackSched   = "@every 10s"
	DefaultFeedbackTimeout = 2 * time.Second
	DefaultFeedbackRetries = 1
	DefaultStaleAfter      = 60 * time.Second
	DefaultRedisTimeout    = 5 * time.Millisecond
	DefaultIPv4Prefix      = 32
	DefaultIPv6Prefix      = 64
	DefaultSNMPPort        = "161"
)

// Config is the whole of mirrors.json after defaults are filled in.
// A *Config returned by Load is never modified afterwards.
type Config struct {
	Listen         string    `json:"listen"`
	Redis          string    `json:"redis"`
	RedisTimeout   Duration  `json:"redis_timeout"`
	RedisPrefix    string    `json:"redis_prefix"`
	GeoIP          string    `json:"geoip"`
	TrustedProxies []string  `json:"trusted_proxies"`
	Health         *Health   `json:"health"`
	Feedback       *Feedback `json:"feedback"`
	Pools          []Pool    `json:"pools"`

	// File is the path the configuration was read from.
	File string `json:"-"`
	// SHA256 is the hex checksum of the file's bytes.
	SHA256 string `json:"-"`
	// Trusted is TrustedProxies parsed into prefixes.
	Trusted []netip.Prefix `json:"-"`
}

// Health configures the active HTTP probes. Absent: every mirror is up.
type Health struct {
	Schedule  string   `json:"schedule"`
	Path      string   `json:"path"`
	Method    string   `json:"method"`
	Timeout   Duration `json:"timeout"`
	Window    int      `json:"window"`
	Threshold int      `json:"threshold"`
	RampUp    Duration `json:"ramp_up"`
}

// Feedback configures the SNMP bandwidth poller. Absent: no polling.
type Feedback struct {
	Schedule   string   `json:"schedule"`
	Timeout    Duration `json:"timeout"`
	Retries    int      `json:"retries"`
	StaleAfter Duration `json:"stale_after"`
}

// Pool is a set of mirrors answering the same routes with one strategy.
type Pool struct {
	Name       string   `json:"name"`
	Routes     []string `json:"routes"`
	Strategy   string   `json:"strategy"`
	Fallback   string   `json:"fallback"`
	AppendPath *bool    `json:"append_path"`
	IPv4Prefix int      `json:"ipv4_prefix"`
	IPv6Prefix int      `json:"ipv6_prefix"`
	Mirrors    []Mirror `json:"mirrors"`
}

// Appends reports whether the request path is appended to the mirror URL.
func (p *Pool) Appends() bool { return p.AppendPath == nil || *p.AppendPath }

// Mirror is one server of a pool.
type Mirror struct {
	Name          string   `json:"name"`
	URL           string   `json:"url"`
	Country       string   `json:"country"`
	Countries     []string `json:"countries"`
	Continent     string   `json:"continent"`
	Lat           *float64 `json:"lat"`
	Lon           *float64 `json:"lon"`
	Weight        *float64 `json:"weight"`
	BandwidthMbps float64  `json:"bandwidth_mbps"`
	Enabled       *bool    `json:"enabled"`
	HTTPS         *bool    `json:"https"`
	HealthURL     string   `json:"health_url"`
	IPv6          *bool    `json:"ipv6"`
	SNMP          *SNMP    `json:"snmp"`
}

// IsEnabled reports the enabled key (default true).
func (m *Mirror) IsEnabled() bool { return m.Enabled == nil || *m.Enabled }

// ConfiguredWeight is the weight key (default 1).
func (m *Mirror) ConfiguredWeight() float64 {
	if m.Weight == nil {
		return 1
	}
	return *m.Weight
}

// SNMP says where a mirror's interface counters are read.
type SNMP struct {
	Target    string `json:"target"`
	Community string `json:"community"`
	Version   string `json:"version"`
	Interface string `json:"interface"`
	IfIndex   int    `json:"if_index"`
	// SNMPv3 (version "3").
	User         string `json:"user"`
	ContextName  string `json:"context_name"`
	AuthProtocol string `json:"auth_protocol"`
	AuthPassword string `json:"auth_password"`
	PrivProtocol string `json:"priv_protocol"`
	PrivPassword string `json:"priv_password"`
}

// Overrides are settings given on the command line or in the environment;
// empty fields leave the file's value alone.
type Overrides struct {
	Listen string
	Redis  string
	GeoIP  string
}

// Load reads, decodes and checks the file at path, applies o, and fills in
// defaults. On failure the error is an Errors listing every problem.
func Load(path string, o Overrides) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: err.Error()}}
	}
	return Parse(path, data, o)
}

// Parse is Load on bytes already read; name is used in error messages.
func Parse(name string, data []byte, o Overrides) (*Config, error) {
	c := &collector{file: name}
	cfg := &Config{}
	cfg.setDefaults()
	decodeStrict(data, cfg, c)
	if len(c.errs) > 0 && cfg.Pools == nil {
		return nil, c.err()
	}
	// Relative paths in the file are relative to the file, as in nginx
	// and Caddy; those given as overrides, to the working directory.
	if cfg.GeoIP != "" && !filepath.IsAbs(cfg.GeoIP) {
		cfg.GeoIP = filepath.Join(filepath.Dir(name), cfg.GeoIP)
	}
	if o.Listen != "" {
		cfg.Listen = o.Listen
	}
	if o.Redis != "" {
		cfg.Redis = o.Redis
	}
	if o.GeoIP != "" {
		cfg.GeoIP = o.GeoIP
	}
	cfg.File = name
	sum := sha256.Sum256(data)
	cfg.SHA256 = hex.EncodeToString(sum[:])
	cfg.normalize()
	cfg.validate(c)
	if err := c.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Defaults are filled in before decoding (see defaulter): a key that is
// absent keeps its default, and a key given as 0 (or "0s") means 0, and is
// refused by validate where 0 makes no sense.

func (cfg *Config) setDefaults() {
	cfg.Listen = DefaultListen
	cfg.RedisTimeout = Duration(DefaultRedisTimeout)
}

func (h *Health) setDefaults() {
	h.Schedule = DefaultHealthSchedule
	h.Path = DefaultHealthPath
	h.Method = "GET"
	h.Timeout = Duration(DefaultHealthTimeout)
	h.Window = DefaultHealthWindow
	h.Threshold = thresholdUnset
	h.RampUp = Duration(DefaultRampUp)
}

// thresholdUnset marks an absent health.threshold: its default depends on
// the window (3, or the window when smaller).
const thresholdUnset = math.MinInt

func (f *Feedback) setDefaults() {
	f.Schedule = DefaultFeedbackSched
	f.Timeout = Duration(DefaultFeedbackTimeout)
	f.Retries = DefaultFeedbackRetries
	f.StaleAfter = Duration(DefaultStaleAfter)
}

func (p *Pool) setDefaults() {
	p.Strategy = Random
	p.IPv4Prefix = DefaultIPv4Prefix
	p.IPv6Prefix = DefaultIPv6Prefix
}

func (s *SNMP) setDefaults() {
	s.Version = "2c"
}

// normalize completes what depends on more than one key, and puts codes
// in upper case.
func (cfg *Config) normalize() {
	if h := cfg.Health; h != nil && h.Threshold == thresholdUnset {
		h.Threshold = min(DefaultHealthThreshold, h.Window)
	}
	for i := range cfg.Pools {
		p := &cfg.Pools[i]
		for j := range p.Mirrors {
			m := &p.Mirrors[j]
			m.Country = strings.ToUpper(m.Country)
			m.Continent = strings.ToUpper(m.Continent)
			for k := range m.Countries {
				m.Countries[k] = strings.ToUpper(m.Countries[k])
			}
			if s := m.SNMP; s != nil && s.Target != "" {
				if _, _, err := net.SplitHostPort(s.Target); err != nil {
					s.Target = net.JoinHostPort(s.Target, DefaultSNMPPort)
				}
			}
		}
	}
}

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
		if h.Window < 1 || h.Window > 64 {
			c.add("health.window", "must be between 1 and 64, got %d", h.Window)
		}
		if h.Threshold < 1 || h.Threshold > h.Window {
			c.add("health.threshold", "must be between 1 and window (%d), got %d", h.Window, h.Threshold)
		}
		if h.RampUp < 0 {
			c.add("health.ramp_up", "must not be negative")
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
		if !validName(p.Name) {
			c.add(path+".name", "must be 1-64 letters, digits, '.', '_' or '-', got %q", p.Name)
		} else if j, dup := names[p.Name]; dup {
			c.add(path+".name", "duplicate pool name %q (also pools[%d])", p.Name, j)
		} else {
			names[p.Name] = i
		}
		p.validate(c, path)
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
	names := map[string]int{}
	for j := range p.Mirrors {
		m := &p.Mirrors[j]
		mpath := fmt.Sprintf("%s.mirrors[%d]", path, j)
		if !validName(m.Name) {
			c.add(mpath+".name", "must be 1-64 letters, digits, '.', '_' or '-', got %q", m.Name)
		} else if k, dup := names[m.Name]; dup {
			c.add(mpath+".name", "duplicate mirror name %q in pool (also mirrors[%d])", m.Name, k)
		} else {
			names[m.Name] = j
		}
		m.validate(c, mpath, p.Appends())
	}
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
	_, ok := geo.LookupCountry(s)
	return ok
}

func isContinentCode(s string) bool {
	switch s {
	case "AF", "AN", "AS", "EU", "NA", "OC", "SA":
		return true
	}
	return false
}
