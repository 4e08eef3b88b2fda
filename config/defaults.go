package config

import (
	"math"
	"net"
	"strings"
)

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

// thresholdUnset marks an absent health.threshold: it defaults to 3, and
// a window smaller than that needs a threshold written beside it
// (validate says so), rather than a default silently lowered.
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

func (f *Files) setDefaults() {
	f.Schedule = DefaultFilesSchedule
	f.Unknown = UnknownAny
	f.Timeout = Duration(DefaultFilesTimeout)
	f.HTTPRate = DefaultHTTPRate
}

func (s *Stats) setDefaults() {
	s.Enabled = true
	s.Retention = Duration(DefaultStatsRetention)
	s.Files = DefaultStatsFiles
}

func (s *SNMP) setDefaults() {
	s.Version = "2c"
}

// normalize completes what depends on more than one key, and puts codes
// in upper case.
func (cfg *Config) normalize() {
	if cfg.Stats == nil {
		cfg.Stats = &Stats{}
		cfg.Stats.setDefaults()
	}
	if h := cfg.Health; h != nil && h.Threshold == thresholdUnset && h.Window >= DefaultHealthThreshold {
		h.Threshold = DefaultHealthThreshold
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
			for k := range m.ExcludeCountries {
				m.ExcludeCountries[k] = strings.ToUpper(m.ExcludeCountries[k])
			}
			if s := m.SNMP; s != nil && s.Target != "" {
				if _, _, err := net.SplitHostPort(s.Target); err != nil {
					s.Target = net.JoinHostPort(s.Target, DefaultSNMPPort)
				}
			}
		}
	}
}
