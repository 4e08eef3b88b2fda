// Package config reads and checks mirrors.json, the dispatcher's one
// configuration file. Load reports every problem at once, each with the file
// name and the JSON path of the offending value.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dispatcher/dispatcher/internal/glob"
	"github.com/dispatcher/dispatcher/strategy"
)

// Strategy names accepted in pools[].strategy.
const (
	Random     = strategy.NameRandom
	RoundRobin = strategy.NameRoundRobin
	IPHash     = strategy.NameIPHash
	Geo        = strategy.NameGeo
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
	DefaultFilesSchedule   = "@every 5m"
	DefaultFilesTimeout    = 5 * time.Minute
	DefaultStatsRetention  = 90 * 24 * time.Hour
	DefaultStatsFiles      = 100000
	DefaultHTTPRate        = 10
	// MaxStatsFiles bounds stats.files: each exact file costs Redis
	// about a hundred bytes a day.
	MaxStatsFiles = 10000000
)

// Config is the whole of mirrors.json after defaults are filled in.
// A *Config returned by Load is never modified afterwards.
type Config struct {
	Listen       string   `json:"listen"`
	Redis        string   `json:"redis"`
	RedisTimeout Duration `json:"redis_timeout"`
	RedisPrefix  string   `json:"redis_prefix"`
	GeoIP        string   `json:"geoip"`
	// ASNDB is an mmdb of autonomous system numbers (GeoLite2-ASN
	// layout), relative to the file like GeoIP.
	ASNDB          string    `json:"asn_db"`
	TrustedProxies []string  `json:"trusted_proxies"`
	Health         *Health   `json:"health"`
	Feedback       *Feedback `json:"feedback"`
	Pools          []Pool    `json:"pools"`
	// Stats configures the download statistics (absent: on, with the
	// defaults).
	Stats *Stats `json:"stats"`

	// File is the path the configuration was read from.
	File string `json:"-"`
	// SHA256 is the hex checksum of the file's bytes.
	SHA256 string `json:"-"`
	// Trusted is TrustedProxies parsed into prefixes.
	Trusted []netip.Prefix `json:"-"`
}

// Stats configures the download statistics.
type Stats struct {
	Enabled bool `json:"enabled"`
	// Retention is how long a day's figures are kept after it ends.
	Retention Duration `json:"retention"`
	// Files is how many distinct files a pool's day counts exactly; later
	// ones are followed by a summary of a tenth as many.
	Files int `json:"files"`
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
	Files      *Files   `json:"files"`
	Mirrors    []Mirror `json:"mirrors"`
}

// Files makes a pool file-aware: it sends a client only to mirrors that
// hold the requested file as the origin has it. Absent: any mirror.
type Files struct {
	// Origin is the master tree: a directory (relative to the
	// configuration file) or rsync://host[:port]/module[/path].
	Origin   string `json:"origin"`
	Schedule string `json:"schedule"`
	// Unknown says what a path the origin lacks gets: any mirror, the
	// fallback, or a 404.
	Unknown string `json:"unknown"`
	Verify  bool   `json:"verify"`
	Hashes  bool   `json:"hashes"`
	// Timeout bounds one listing of the origin or of a mirror.
	Timeout Duration `json:"timeout"`
	// OriginURL is the origin's public base URL: paths matching
	// OriginPaths and files smaller than MinSize bytes are redirected
	// there (with the path) rather than to a mirror.
	OriginURL   string   `json:"origin_url"`
	OriginPaths []string `json:"origin_paths"`
	MinSize     int64    `json:"min_size"`
	// HTTPRate is the most requests a second an HTTP scan makes to one
	// mirror (scan "http").
	HTTPRate float64 `json:"http_rate"`

	// OriginGlobs is OriginPaths compiled.
	OriginGlobs []glob.Pattern `json:"-"`
}

// What Mirror.Scan can be.
const (
	ScanRsync = "rsync"
	ScanHTTP  = "http"
)

// Listed reports whether the mirror's tree is listed (rsync or HTTP);
// else it is assumed to hold every origin file.
func (m *Mirror) Listed() bool { return m.Rsync != "" || m.Scan == ScanHTTP }

// What Files.Unknown can be.
const (
	UnknownAny      = "any"
	UnknownFallback = "fallback"
	Unknown404      = "404"
)

// OriginIsRsync reports whether the origin is an rsync URL (else a
// directory).
func (f *Files) OriginIsRsync() bool { return strings.HasPrefix(f.Origin, "rsync://") }

// RuledByPlace reports whether a mirror of p is restricted by where a
// client is (only country or continent, exclude_countries).
func (p *Pool) RuledByPlace() bool {
	for _, m := range p.Mirrors {
		if m.Only == OnlyCountry || m.Only == OnlyContinent || len(m.ExcludeCountries) > 0 {
			return true
		}
	}
	return false
}

// NamesASNs reports whether a mirror of p names ASNs (asn, only "asn").
func (p *Pool) NamesASNs() bool {
	for _, m := range p.Mirrors {
		if len(m.ASN) > 0 {
			return true
		}
	}
	return false
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
	// Rsync is where the mirror's tree is listed (rsync://…), for a pool
	// with files.
	Rsync string `json:"rsync"`
	// Scan is how the mirror's tree is listed: ScanRsync (the default
	// with Rsync), or ScanHTTP, its directory index pages under URL.
	Scan string `json:"scan"`
	// IPv4 and IPv6 say over which address families the mirror is
	// reachable (IPv4: true unless the URL is an IPv6 address).
	IPv4 *bool `json:"ipv4"`
	IPv6 *bool `json:"ipv6"`
	SNMP *SNMP `json:"snmp"`
	// Networks are the client prefixes the mirror serves first (geo's
	// network tier), and ASN the autonomous systems it counts as local.
	Networks []string `json:"networks"`
	ASN      []int64  `json:"asn"`
	// Only makes the mirror eligible only for the clients of its own
	// networks, ASNs, country or continent (OnlyNetwork…).
	Only string `json:"only"`
	// ExcludeCountries are the countries whose clients never get it.
	ExcludeCountries []string `json:"exclude_countries"`

	// Nets is Networks parsed.
	Nets []netip.Prefix `json:"-"`
}

// What Mirror.Only can be.
const (
	OnlyNetwork   = "network"
	OnlyASN       = "asn"
	OnlyCountry   = "country"
	OnlyContinent = "continent"
)

// MaxASN is the largest autonomous system number (32 bits).
const MaxASN = 1<<32 - 1

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
	cfg, err := LoadPartial(path, o)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// LoadPartial is Load that, when the file has errors, also returns the
// configuration as far as it was read (nil when nothing usable was), so
// that what the file names outside itself can be checked in the same
// pass and every problem reported at once. A configuration returned with
// an error must not be served.
func LoadPartial(path string, o Overrides) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: err.Error()}}
	}
	return parse(path, data, o)
}

// Parse is Load on bytes already read; name is used in error messages.
func Parse(name string, data []byte, o Overrides) (*Config, error) {
	cfg, err := parse(name, data, o)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// parse is Parse returning the configuration as far as it was read along
// with its errors (nil when nothing usable was read).
func parse(name string, data []byte, o Overrides) (*Config, error) {
	c := &collector{file: name}
	cfg := &Config{}
	cfg.setDefaults()
	decodeStrict(data, cfg, c)
	if len(c.errs) > 0 && cfg.Pools == nil {
		return nil, c.err()
	}
	// Relative paths in the file are relative to the file, as in nginx
	// and Caddy; those given as overrides, to the working directory.
	if cfg.ASNDB != "" && !filepath.IsAbs(cfg.ASNDB) {
		cfg.ASNDB = filepath.Join(filepath.Dir(name), cfg.ASNDB)
	}
	if cfg.GeoIP != "" && !filepath.IsAbs(cfg.GeoIP) {
		cfg.GeoIP = filepath.Join(filepath.Dir(name), cfg.GeoIP)
	}
	for i := range cfg.Pools {
		if f := cfg.Pools[i].Files; f != nil && f.Origin != "" && !strings.Contains(f.Origin, "://") && !filepath.IsAbs(f.Origin) {
			f.Origin = filepath.Join(filepath.Dir(name), f.Origin)
		}
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
	cfg.packMirrorStrings()
	cfg.validate(c)
	if err := c.err(); err != nil {
		return cfg, err
	}
	return cfg, nil
}
