package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

func TestLoadGood(t *testing.T) {
	cfg, err := Load("testdata/good.json", Overrides{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	p := cfg.Pools[0]
	if got := p.Mirrors[0].Country; got != "CN" {
		t.Errorf("country = %q; want CN (upper-cased)", got)
	}
	if got := p.Mirrors[0].SNMP.Target; got != "10.0.1.101:161" {
		t.Errorf("snmp target = %q; want the default port added", got)
	}
	if got := p.Mirrors[0].SNMP.Version; got != "2c" {
		t.Errorf("snmp version = %q; want 2c", got)
	}
	if w := p.Mirrors[1].ConfiguredWeight(); w != 1 {
		t.Errorf("default weight = %v; want 1", w)
	}
	if !p.Appends() || cfg.Pools[2].Appends() {
		t.Errorf("append_path defaults wrong")
	}
	if p.IPv4Prefix != 32 || p.IPv6Prefix != 64 {
		t.Errorf("prefixes = %d, %d; want 32, 64", p.IPv4Prefix, p.IPv6Prefix)
	}
	if time.Duration(cfg.Health.Timeout) != 2*time.Second || cfg.Health.Method != "GET" {
		t.Errorf("health = %+v", cfg.Health)
	}
	if len(cfg.Trusted) != 2 || cfg.Trusted[0].String() != "127.0.0.1/32" {
		t.Errorf("trusted = %v", cfg.Trusted)
	}
	if len(cfg.SHA256) != 64 {
		t.Errorf("sha256 = %q", cfg.SHA256)
	}
}

func TestLoadBadConfigs(t *testing.T) {
	tests := []struct {
		file    string
		wantErr []string
	}{
		{"bad-syntax.json", []string{"testdata/bad-syntax.json: invalid JSON: the file ends too early"}},
		{"bad-empty.json", []string{"testdata/bad-empty.json: pools: at least one pool is required"}},
		{"bad-unknown-keys.json", []string{
			"testdata/bad-unknown-keys.json: listne: unknown key",
			"testdata/bad-unknown-keys.json: pools[0].mirrors[0].wieght: unknown key",
		}},
		{"bad-mirrors.json", []string{
			`pools[0].mirrors[1].name: duplicate mirror name "a" (also mirrors[0])`,
			`pools[0].mirrors[2].url: must be an absolute http or https URL, got "ftp://c.example"`,
			`pools[0].mirrors[3].url: must be an absolute http or https URL, got "/relative"`,
			`pools[0].mirrors[4].name: must be 1-64 letters, digits, '.', '_' or '-', got "e e"`,
			`pools[0].mirrors[4].url: must not contain a query when append_path is true`,
			`pools[0].mirrors[4].weight: must be between 0 and 1000000, got -1`,
			`pools[0].mirrors[4].country: must be an ISO 3166-1 alpha-2 code such as "DE", got "GERMANY"`,
			`pools[0].mirrors[5].weight: must be a number`,
			`pools[0].mirrors[5]: lat and lon must be given together`,
		}},
		{"bad-routes.json", []string{
			`pools[0].routes[1]: must start with /, got "nope"`,
			`pools[2].name: duplicate pool name "one" (also pools[0])`,
			`pools[2].strategy: unknown strategy "fastest" (want random, roundrobin, iphash or geo)`,
			`pools[2].mirrors: at least one mirror is required`,
		}},
		{"bad-snmp-secrets.json", []string{
			`pools[0].mirrors[0].snmp.auth_protocol: must be MD5, SHA, SHA224, SHA256, SHA384 or SHA512`,
			`pools[0].mirrors[0].snmp.priv_protocol: must be DES, AES, AES192 or AES256`,
			`pools[0].mirrors[1].snmp.target: must be host:port`,
			`pools[0].mirrors[2].snmp.target: port must be 1-65535`,
			`pools[0].mirrors[2].snmp.version: must be "1", "2c" or "3"`,
			`pools[0].mirrors[3].url: must not contain credentials`,
		}},
		{"bad-files.json", []string{
			`pools[0].files.origin: must name a module`,
			`pools[0].files.hashes: needs a directory origin`,
			`pools[0].files.unknown: must be any, fallback or 404, got "maybe"`,
			`pools[0].files.schedule: bad cron spec "sometimes"`,
			`pools[0].mirrors[0].rsync: must not contain credentials`,
			`pools[1].files.origin: must be a directory or an rsync:// URL`,
			`pools[1].files.unknown: is fallback, but the pool has no fallback`,
			`pools[1].mirrors[0].rsync: must be rsync://host[:port]/module[/path]`,
			`pools[2].files.origin: is required`,
			`pools[2].files.timeout: must be positive`,
			`pools[2].files: needs append_path`,
			`pools[3].mirrors[0].rsync: needs the pool's files`,
			`pools[4].files.origin_paths[1]: must be a relative path pattern such as "**/InRelease", got "/abs"`,
			`pools[4].files.origin_paths[2]: ** must be a whole segment, got "a**b"`,
			`pools[4].files.origin_paths: needs origin_url`,
			`pools[4].files.min_size: must not be negative, got -1`,
			`pools[5].files.origin_url: must be an absolute http or https URL, got "ftp://origin.example"`,
		}},
		{"bad-scan.json", []string{
			`pools[0].files.http_rate: must be more than 0 and at most 1000 requests a second, got 0`,
			`pools[0].mirrors[0].scan: must be "rsync" or "http", got "ftp"`,
			`pools[0].mirrors[1].scan: is "rsync", but the mirror has no rsync URL`,
			`pools[1].mirrors[0].scan: needs the pool's files (a listing is compared with the origin)`,
		}},
		{"bad-stats.json", []string{
			`stats.summary: unknown key`,
			`stats.retention: must be between 1d and 3660d, got 12h0m0s`,
			`stats.files: must be between 1 and 10000000, got 0`,
		}},
		{"bad-stats-days.json", []string{
			`stats.retention: must be a duration such as "2s" or "90d": "ninety days" does not parse`,
		}},
		{"bad-reach.json", []string{
			`pools[0].mirrors[0].only: must be network, asn, country or continent, got "campus"`,
			`pools[0].mirrors[0].networks[0]: must be a CIDR prefix such as "192.0.2.0/24" or "2001:db8::/32", got "192.0.2.0/33"`,
			`pools[0].mirrors[0].asn[0]: must be an AS number between 1 and 4294967295, got 0`,
			`pools[0].mirrors[0].asn[1]: must be an AS number between 1 and 4294967295, got 4294967296`,
			`pools[0].mirrors[0].asn: needs asn_db at the top level`,
			`pools[0].mirrors[1].only: is network, but the mirror has no networks`,
			`pools[0].mirrors[2].only: is asn, but the mirror has no asn`,
			`pools[0].mirrors[2].exclude_countries[1]: must be an ISO 3166-1 alpha-2 code, got "GERMANY"`,
			`pools[0].mirrors[3].only: is country, but the mirror has no country or countries`,
			`pools[0].mirrors[4]: ipv4 and ipv6 are both false`,
			`pools[0].mirrors[4].networks[0]: must be a CIDR prefix such as "192.0.2.0/24" or "2001:db8::/32", got "fe80::1%eth0/64"`,
			`pools[0].mirrors[4].networks[1]: must be a CIDR prefix such as "192.0.2.0/24" or "2001:db8::/32", got "10.0.0.1"`,
		}},
		{"bad-schedules.json", []string{
			`health.schedule: bad cron spec "every five seconds"`,
			`health.timeout: must be a duration such as "2s" or "90d": "soon" does not parse`,
			`health.threshold: must be between 1 and window (3), got 4`,
			`feedback.schedule: bad cron spec "@every 10x"`,
			`trusted_proxies[0]: must be an IP address or CIDR prefix, got "10.0.0.0/33"`,
			`pools[0].mirrors[0].snmp.target: port must be 1-65535`,
			`pools[0].mirrors[0].snmp.version: must be "1", "2c" or "3"`,
			`pools[0].mirrors[0].snmp: exactly one of interface (a name) or if_index is required`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", tt.file), Overrides{})
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the errors repeat a secret:\n%v", err)
			}
			if err == nil {
				t.Fatalf("Load(%s) succeeded; want errors", tt.file)
			}
			var list Errors
			if !errors.As(err, &list) {
				t.Fatalf("error is %T; want Errors", err)
			}
			msg := err.Error()
			for _, want := range tt.wantErr {
				if !strings.Contains(msg, want) {
					t.Errorf("errors of %s lack %q; got:\n%s", tt.file, want, msg)
				}
			}
			for _, e := range list {
				if e.File != filepath.Join("testdata", tt.file) {
					t.Errorf("error %q does not name the file", e)
				}
			}
		})
	}
}

func TestOverrides(t *testing.T) {
	cfg, err := Load("testdata/good.json", Overrides{Listen: "127.0.0.1:9", Redis: "redis://127.0.0.1:6379/0", GeoIP: "x.mmdb"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9" || cfg.Redis != "redis://127.0.0.1:6379/0" || cfg.GeoIP != "x.mmdb" {
		t.Errorf("overrides not applied: %q %q %q", cfg.Listen, cfg.Redis, cfg.GeoIP)
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load("testdata/nope.json", Overrides{})
	if err == nil || !strings.Contains(err.Error(), "testdata/nope.json") {
		t.Errorf("Load(missing) = %v; want an error naming the file", err)
	}
}

// FuzzParseConfig checks that no input makes Parse panic, and that a
// configuration it accepts survives a round trip through JSON.
func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"good.json", "bad-mirrors.json", "bad-routes.json", "bad-schedules.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.json", data, Overrides{})
		if err != nil {
			return
		}
		out, err := json.Marshal(cfg)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		again, err := Parse("again.json", out, Overrides{})
		if err != nil {
			t.Fatalf("round trip rejected: %v\n%s", err, out)
		}
		out2, _ := json.Marshal(again)
		if string(out) != string(out2) {
			t.Fatalf("round trip changed the configuration:\n%s\n%s", out, out2)
		}
	})
}

// TestZeroIsNotAbsent: an absent key gets its default; a key given as 0
// means 0, or is refused where 0 makes no sense.
func TestZeroIsNotAbsent(t *testing.T) {
	const pools = `"pools": [{"name": "p", "routes": ["/"], "mirrors": [{"name": "m", "url": "http://m.example"}]}]`
	absent, err := Parse("absent.json", []byte(`{"health": {}, "feedback": {}, `+pools+`}`), Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if h, f := absent.Health, absent.Feedback; h.RampUp != Duration(DefaultRampUp) || h.Threshold != DefaultHealthThreshold ||
		f.Retries != DefaultFeedbackRetries || f.StaleAfter != Duration(DefaultStaleAfter) || absent.Pools[0].IPv4Prefix != 32 {
		t.Errorf("absent keys: health %+v feedback %+v; want the defaults", *h, *f)
	}
	zero, err := Parse("zero.json", []byte(`{"health": {"ramp_up": "0s", "window": 2, "threshold": 2}, "feedback": {"retries": 0, "stale_after": "0s"}, `+pools+`}`), Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if h, f := zero.Health, zero.Feedback; h.RampUp != 0 || h.Threshold != 2 || f.Retries != 0 || f.StaleAfter != 0 {
		t.Errorf("zero keys: health %+v feedback %+v; want ramp_up 0, threshold 2, retries 0, stale_after 0", *h, *f)
	}
	// A window below the default threshold needs the threshold written: it
	// is not lowered silently. A wrong window is the one error, not also a
	// threshold the file does not have.
	for json, want := range map[string]string{
		`"health": {"window": 2}`:                 "zero.json: health.window: 2 is less than the default threshold 3: set health.threshold too (1 to 2)",
		`"health": {"window": 0}`:                 "zero.json: health.window: must be between 1 and 64, got 0",
		`"health": {"window": 70}`:                "zero.json: health.window: must be between 1 and 64, got 70",
		`"health": {"window": 0, "threshold": 2}`: "zero.json: health.window: must be between 1 and 64, got 0",
		`"health": {"window": 4, "threshold": 5}`: "zero.json: health.threshold: must be between 1 and window (4), got 5",
	} {
		_, err := Parse("zero.json", []byte("{"+json+", "+pools+"}"), Overrides{})
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v; want exactly %q", json, err, want)
		}
	}
	for _, tt := range []struct{ json, want string }{
		{`"health": {"timeout": "0s"}`, "health.timeout: must be positive"},
		{`"health": {"threshold": 0}`, "health.threshold: must be at least 1, got 0"},
		{`"health": {"window": 0}`, "health.window: must be between 1 and 64"},
		{`"feedback": {"timeout": "0s"}`, "feedback.timeout: must be positive"},
		{`"redis_timeout": "0s"`, "redis_timeout: must be more than 0"},
		{`"pools": [{"name": "p", "routes": ["/"], "ipv4_prefix": 0, "mirrors": [{"name": "m", "url": "http://m.example"}]}]`, "ipv4_prefix: must be between 1 and 32"},
	} {
		body := "{" + tt.json
		if !strings.Contains(tt.json, `"pools"`) {
			body += ", " + pools
		}
		_, err := Parse("zero.json", []byte(body+"}"), Overrides{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v; want %q", tt.json, err, tt.want)
		}
	}
}

// TestStatsBlock: absent, stats are on with the defaults; "enabled":
// false turns them off; a retention in days reads as days.
func TestStatsBlock(t *testing.T) {
	const pools = `"pools": [{"name": "p", "routes": ["/p/*file"], "mirrors": [{"name": "a", "url": "http://a.example"}]}]`
	for _, tt := range []struct {
		json string
		want Stats
	}{
		{`{` + pools + `}`, Stats{Enabled: true, Retention: Duration(90 * 24 * time.Hour), Files: 100000}},
		{`{"stats": {"enabled": false}, ` + pools + `}`, Stats{Enabled: false, Retention: Duration(90 * 24 * time.Hour), Files: 100000}},
		{`{"stats": {"retention": "30d", "files": 500}, ` + pools + `}`, Stats{Enabled: true, Retention: Duration(30 * 24 * time.Hour), Files: 500}},
	} {
		cfg, err := Parse("mirrors.json", []byte(tt.json), Overrides{})
		if err != nil {
			t.Fatalf("%s: %v", tt.json, err)
		}
		if *cfg.Stats != tt.want {
			t.Errorf("%s: stats = %+v; want %+v", tt.json, *cfg.Stats, tt.want)
		}
	}
}
