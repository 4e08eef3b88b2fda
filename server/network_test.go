package server_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/api"
	"github.com/dispatcher/dispatcher/internal/itest"
)

// namedMirror is a real HTTP server that answers every GET with its name.
func namedMirror(t *testing.T, name, network, addr string, secure bool) (*httptest.Server, string) {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatalf("mirror %s on %s: %v", name, addr, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name) //nolint:errcheck // the test reads it
	}))
	srv.Listener = ln
	if secure {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, srv.URL
}

// TestNetworkRules runs the dispatcher binary with a geo and an ASN
// database built in the test, mirrors that are real HTTP servers (one on
// IPv6 loopback only, one over TLS), and clients played through a
// trusted proxy (X-Forwarded-For, X-Forwarded-Proto): every client is
// sent only to mirrors the rules let it have, and each redirect leads to
// a mirror that answers; geo takes the client's network, then its AS,
// before its country; ?as= moves a client for the tiers (in a pool with
// rules too) but not past a sponsor's rule; with no eligible mirror a pool answers with its
// fallback, else 503; /api/explain names the rule that excludes each
// mirror.
func TestNetworkRules(t *testing.T) {
	geoDB := itest.WriteMMDB(t, true,
		itest.GeoEntry{Network: "198.51.100.0/24", Country: "DE"},
		itest.GeoEntry{Network: "203.0.113.0/24", Country: "RU"},
		itest.GeoEntry{Network: "192.0.2.0/24", Country: "US"},
		itest.GeoEntry{Network: "2001:db8::/32", Country: "US"})
	asnDB := itest.WriteASNMMDB(t,
		itest.ASNEntry{Network: "198.51.100.0/24", ASN: 64500, Org: "Sponsor Net"},
		itest.ASNEntry{Network: "192.0.2.0/24", ASN: 64501, Org: "Other Net"})
	urls := map[string]string{}
	var tlsMirror *httptest.Server
	for _, name := range []string{"open", "sponsor", "de-only", "not-ru", "de", "campus", "isp"} {
		_, urls[name] = namedMirror(t, name, "tcp4", "127.0.0.1:0", false)
	}
	_, urls["v6"] = namedMirror(t, "v6", "tcp6", "[::1]:0", false)
	tlsMirror, urls["tls"] = namedMirror(t, "tls", "tcp4", "127.0.0.1:0", true)
	cfg := fmt.Sprintf(`{
	  "geoip": %q, "asn_db": %q, "trusted_proxies": ["127.0.0.1/32"],
	  "pools": [
	    {"name": "dl", "routes": ["/dl/*file"], "mirrors": [
	      {"name": "open", "url": %q, "country": "US"},
	      {"name": "sponsor", "url": %q, "country": "DE", "only": "asn", "asn": [64500]},
	      {"name": "de-only", "url": %q, "country": "DE", "only": "country"},
	      {"name": "not-ru", "url": %q, "country": "FI", "exclude_countries": ["ru"]},
	      {"name": "v6", "url": %q, "country": "NL"},
	      {"name": "tls", "url": %q, "country": "US"}]},
	    {"name": "near", "routes": ["/near/*file"], "strategy": "geo", "mirrors": [
	      {"name": "de", "url": %q, "country": "DE", "weight": 10},
	      {"name": "campus", "url": %q, "country": "JP", "networks": ["198.51.100.0/25"]},
	      {"name": "isp", "url": %q, "country": "FR", "asn": [64500]}]},
	    {"name": "near-ruled", "routes": ["/near-ruled/*file"], "strategy": "geo", "mirrors": [
	      {"name": "de", "url": %[9]q, "country": "DE", "weight": 10},
	      {"name": "isp", "url": %[11]q, "country": "FR", "asn": [64500]},
	      {"name": "not-ru", "url": %[6]q, "country": "FI", "exclude_countries": ["ru"]}]},
	    {"name": "sponsored", "routes": ["/sp/*file"], "fallback": "http://fallback.example", "mirrors": [
	      {"name": "sponsor", "url": %[4]q, "only": "asn", "asn": [64500]}]},
	    {"name": "sponsored-only", "routes": ["/sp-only/*file"], "mirrors": [
	      {"name": "sponsor", "url": %[4]q, "only": "asn", "asn": [64500]}]}
	  ]}`, geoDB, asnDB, urls["open"], urls["sponsor"], urls["de-only"], urls["not-ru"], urls["v6"], urls["tls"],
		urls["de"], urls["campus"], urls["isp"])
	path := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, path, cfg)
	d := itest.Dispatcher(t, path, []string{"DISPATCHER_ADMIN_TOKEN=tok"})
	base := "http://" + d.Addr
	noFollow := itest.NoRedirectClient(5 * time.Second)
	pool := x509.NewCertPool()
	pool.AddCert(tlsMirror.Certificate())
	follow := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	// get asks for target as the client xff (over https when secure) and
	// returns the status, the mirror named and the Location.
	get := func(target, xff string, secure bool) (int, string, string) {
		req, _ := http.NewRequest("GET", base+target, nil)
		req.Header.Set("X-Forwarded-For", xff)
		if secure {
			req.Header.Set("X-Forwarded-Proto", "https")
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("X-Mirror"), resp.Header.Get("Location")
	}
	tests := []struct {
		name, target, xff string
		secure            bool
		want              []string
	}{
		{"German client of the sponsor's AS", "/dl/x.iso", "198.51.100.7", false, []string{"open", "sponsor", "de-only", "not-ru", "tls"}},
		{"Russian client", "/dl/x.iso", "203.0.113.5", false, []string{"open", "tls"}},
		{"Russian client naming Germany and the sponsor's AS", "/dl/x.iso?country=DE&as=64500", "203.0.113.5", false, []string{"open", "tls"}},
		{"US client of another AS", "/dl/x.iso", "192.0.2.4", false, []string{"open", "not-ru", "tls"}},
		{"IPv6 client", "/dl/x.iso", "2001:db8::9", false, []string{"v6"}},
		{"client over https", "/dl/x.iso", "198.51.100.8", true, []string{"tls"}},
		{"client in the campus network", "/near/x.iso", "198.51.100.7", false, []string{"campus"}},
		{"client of the ISP's AS outside the campus", "/near/x.iso", "198.51.100.200", false, []string{"isp"}},
		{"German client of another AS", "/near/x.iso?as=64501", "198.51.100.200", false, []string{"de"}},
		{"US client naming the ISP's AS", "/near/x.iso?as=64500", "192.0.2.4", false, []string{"isp"}},
		// In a pool with a rule, the rules look the client's AS up
		// before ?as= moves it; the tiers must follow the move, though
		// a US client of its own AS came first.
		{"US client, pool with a rule", "/near-ruled/x.iso", "192.0.2.4", false, []string{"de", "isp", "not-ru"}},
		{"US client naming the ISP's AS, pool with a rule", "/near-ruled/x.iso?as=64500", "192.0.2.4", false, []string{"isp"}},
	}
	for _, tt := range tests {
		got := map[string]bool{}
		for range 120 {
			code, m, loc := get(tt.target, tt.xff, tt.secure)
			if code != http.StatusFound || !slices.Contains(tt.want, m) {
				t.Fatalf("%s: %d to %q (%s); want one of %v", tt.name, code, m, loc, tt.want)
			}
			if !got[m] {
				resp, err := follow.Get(loc)
				if err != nil {
					t.Fatalf("%s: following %s: %v", tt.name, loc, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(body) != m {
					t.Fatalf("%s: %s answered %q; want %s", tt.name, loc, body, m)
				}
			}
			got[m] = true
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s: got %v; every one of %v should get requests", tt.name, got, tt.want)
		}
	}
	if code, m, loc := get("/sp/x.iso", "203.0.113.5", false); code != http.StatusFound || m != "fallback" || loc != "http://fallback.example/sp/x.iso" {
		t.Errorf("no eligible mirror, with a fallback: %d %q %s", code, m, loc)
	}
	if code, m, _ := get("/sp/x.iso", "198.51.100.7", false); code != http.StatusFound || m != "sponsor" {
		t.Errorf("the sponsor's own client: %d %q", code, m)
	}
	if code, _, _ := get("/sp-only/x.iso", "203.0.113.5", false); code != http.StatusServiceUnavailable {
		t.Errorf("no eligible mirror, no fallback: %d; want 503", code)
	}

	// /api/explain, for the Russian client.
	req, _ := http.NewRequest("GET", base+"/api/explain?path=/dl/x.iso&ip=203.0.113.5", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ex api.Explanation
	if err := json.NewDecoder(resp.Body).Decode(&ex); err != nil {
		t.Fatal(err)
	}
	rules := map[string]string{}
	for _, m := range ex.Mirrors {
		if len(m.Factors.Excluded) > 0 {
			rules[m.Name] = m.Factors.Excluded[0].Rule + ": " + m.Factors.Excluded[0].Reason
		}
		if len(m.Factors.Excluded) > 0 && m.Share != 0 {
			t.Errorf("explain: %s is excluded but has share %v", m.Name, m.Share)
		}
	}
	for name, want := range map[string]string{
		"sponsor": "only: serves only clients in AS64500; this client is in no known AS",
		"de-only": "only: serves only clients in DE; this client is in RU",
		"not-ru":  "excluded_country: never serves clients in RU",
		"v6":      "family: reachable over IPv6 only",
	} {
		if !strings.HasPrefix(rules[name], want) {
			t.Errorf("explain: %s excluded by %q; want %q", name, rules[name], want)
		}
	}
	if len(rules) != 4 || ex.Client.Country != "RU" {
		t.Errorf("explain: client %+v, exclusions %v", ex.Client, rules)
	}
}
