package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dispatcher/dispatcher/handlers"
)

const explainConfig = `{
  "geoip": %q,
  "pools": [
    {"name": "rand", "routes": ["/r/*file"], "strategy": "random", "mirrors": [
      {"name": "big", "url": "http://big.example", "weight": 3},
      {"name": "small", "url": "http://small.example", "weight": 1},
      {"name": "drained", "url": "http://drained.example"},
      {"name": "off", "url": "http://off.example", "enabled": false}]},
    {"name": "rr", "routes": ["/rr/*file"], "strategy": "roundrobin", "mirrors": [
      {"name": "a", "url": "http://a.example", "weight": 2}, {"name": "b", "url": "http://b.example"}]},
    {"name": "hash", "routes": ["/h/*file"], "strategy": "iphash", "mirrors": [
      {"name": "x", "url": "http://x.example"}, {"name": "y", "url": "http://y.example"}, {"name": "z", "url": "http://z.example"}]},
    {"name": "world", "routes": ["/get/:name/from/a/mirror"], "strategy": "geo", "mirrors": [
      {"name": "de", "url": "http://de.example", "country": "DE"},
      {"name": "br", "url": "http://br.example", "country": "BR"},
      {"name": "ar", "url": "http://ar.example", "country": "AR"},
      {"name": "us", "url": "http://us.example", "country": "US"}]}]}`

// explain asks /api/explain with the admin token "tok" (an ip parameter
// needs it).
func explain(t *testing.T, srv http.Handler, query string) (handlers.Explanation, int) {
	t.Helper()
	return explainWith(t, srv, query, map[string]string{"Authorization": "Bearer tok"})
}

func explainWith(t *testing.T, srv http.Handler, query string, hdr map[string]string) (handlers.Explanation, int) {
	t.Helper()
	w := do(srv, "GET", "/api/explain?"+query, "192.0.2.7:4000", hdr)
	var ex handlers.Explanation
	if w.Code == 200 {
		if err := json.Unmarshal(w.Body.Bytes(), &ex); err != nil {
			t.Fatalf("explain %s: %v in %s", query, err, w.Body)
		}
	}
	return ex, w.Code
}

func mirrorOf(t *testing.T, ex handlers.Explanation, name string) handlers.ExplainedMirror {
	t.Helper()
	for _, m := range ex.Mirrors {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("explanation of %s lacks mirror %s", ex.Path, name)
	return handlers.ExplainedMirror{}
}

// TestExplain asks /api/explain about each strategy, a drained and a
// disabled mirror, a geo client placed by address and by country, and a
// spoofed ip parameter, which explains but never changes real routing.
func TestExplain(t *testing.T) {
	mmdb, err := filepath.Abs(filepath.Join("..", "data", "geo-whois-asn-country.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := newServer(t, fmt.Sprintf(explainConfig, mmdb), "tok")
	if err := srv.SetEnabled(context.Background(), "rand", "drained", false); err != nil {
		t.Fatal(err)
	}

	ex, code := explain(t, srv, "path=/r/a.iso")
	if code != 200 || ex.Pool != "rand" || ex.Strategy != "random" || ex.Mirror == nil {
		t.Fatalf("random: %d %+v", code, ex)
	}
	if ex.Client.IP != "192.0.2.7" || !strings.Contains(ex.Client.Source, "connection") {
		t.Errorf("client %+v; want the connection's address", ex.Client)
	}
	big, small := mirrorOf(t, ex, "big"), mirrorOf(t, ex, "small")
	if big.Share != 0.75 || small.Share != 0.25 {
		t.Errorf("random shares big %v small %v; want 0.75 and 0.25 (weights 3:1)", big.Share, small.Share)
	}
	if d := mirrorOf(t, ex, "drained"); d.Usable || !d.Factors.Drained || d.Share != 0 || !strings.Contains(d.Reason, "drained") {
		t.Errorf("drained mirror explained as %+v", d)
	}
	if o := mirrorOf(t, ex, "off"); o.Factors.Configured || !strings.Contains(o.Reason, "disabled in the configuration") {
		t.Errorf("disabled mirror explained as %+v", o)
	}
	if *ex.Mirror != "big" && *ex.Mirror != "small" {
		t.Errorf("random would pick %s", *ex.Mirror)
	}

	ex, _ = explain(t, srv, "path=/rr/a.iso")
	if ex.Mirror != nil || !strings.Contains(ex.Note, "round robin") {
		t.Errorf("round robin: mirror %v, note %q; explain must not take a position", ex.Mirror, ex.Note)
	}
	if a := mirrorOf(t, ex, "a"); math.Abs(a.Share-2.0/3) > 1e-3 {
		t.Errorf("round robin share of a = %v; want 2/3", a.Share)
	}

	// ip hash: the explained pick is the one a request from that address
	// gets; the ip parameter explains only.
	for _, ip := range []string{"198.51.100.1", "198.51.100.2", "203.0.113.9", "2001:db8::1"} {
		ex, _ = explain(t, srv, "path=/h/f.iso&ip="+ip)
		real := do(srv, "GET", "/h/f.iso", net.JoinHostPort(ip, "4000"), nil).Header().Get("X-Mirror")
		if ex.Mirror == nil || *ex.Mirror != real || !strings.Contains(ex.Client.Source, "ip parameter") {
			t.Errorf("ip hash for %s: explained %v, a request from it got %s", ip, ex.Mirror, real)
		}
		if m := mirrorOf(t, ex, real); m.Share != 1 {
			t.Errorf("ip hash share of the winner %v", m.Share)
		}
		spoofed := do(srv, "GET", "/h/f.iso?ip="+ip, "192.0.2.7:4000", nil).Header().Get("X-Mirror")
		own := do(srv, "GET", "/h/f.iso", "192.0.2.7:4000", nil).Header().Get("X-Mirror")
		if spoofed != own {
			t.Errorf("?ip=%s on a pool route changed routing: %s, not %s", ip, spoofed, own)
		}
	}

	// geo: Brazil gets Brazil; Peru, placed by country, has no mirror of
	// its own and gets the South American tier.
	ex, _ = explain(t, srv, "path=/get/php.tar.gz/from/a/mirror&ip=200.160.2.3")
	if ex.Client.Country != "BR" || ex.Client.Continent != "SA" || ex.Client.Lat == nil || ex.Mirror == nil || *ex.Mirror != "br" {
		t.Errorf("geo for a Brazilian address: client %+v, mirror %v", ex.Client, ex.Mirror)
	}
	if de := mirrorOf(t, ex, "de"); de.Share != 0 || de.Factors.Tier != "world" || !strings.Contains(de.Reason, "world tier") {
		t.Errorf("de for a Brazilian client: %+v", de)
	}
	ex, _ = explain(t, srv, "path=/get/php.tar.gz/from/a/mirror&country=PE")
	br, ar := mirrorOf(t, ex, "br"), mirrorOf(t, ex, "ar")
	if ex.Client.Country != "PE" || br.Factors.Tier != "continent" || br.Share+ar.Share < 0.999 {
		t.Errorf("geo for Peru: client %+v, br %+v, ar %+v; want the South American tier", ex.Client, br, ar)
	}

	for query, want := range map[string]int{
		"":                       400,
		"path=relative":          400,
		"path=/nowhere/a.iso":    404,
		"path=/r/a&ip=not-an-ip": 400,
		"path=/r/a&country=ZZZ":  400,
	} {
		if _, code := explain(t, srv, query); code != want {
			t.Errorf("explain?%s = %d; want %d", query, code, want)
		}
	}
}

// TestExplainIPNeedsToken: anyone may ask about their own address or a
// country; explaining another address (which mirror and location any
// client gets) needs the admin token, and is refused where no token is set.
func TestExplainIPNeedsToken(t *testing.T) {
	mmdb, err := filepath.Abs(filepath.Join("..", "data", "geo-whois-asn-country.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(explainConfig, mmdb)
	srv, _ := newServer(t, cfg, "tok")
	open, _ := newServer(t, cfg, "")
	const ipQuery = "path=/h/f.iso&ip=198.51.100.1"
	for _, tt := range []struct {
		name  string
		srv   http.Handler
		query string
		auth  string
		want  int
	}{
		{"own address, no token", srv, "path=/h/f.iso", "", 200},
		{"a country, no token", srv, "path=/get/x/from/a/mirror&country=PE", "", 200},
		{"ip, no token", srv, ipQuery, "", 401},
		{"ip, wrong token", srv, ipQuery, "Bearer nope", 401},
		{"ip, token", srv, ipQuery, "Bearer tok", 200},
		{"ip, lower-case scheme", srv, ipQuery, "bearer tok", 200},
		{"ip, admin API disabled", open, ipQuery, "Bearer tok", 403},
		{"own address, admin API disabled", open, "path=/h/f.iso", "", 200},
	} {
		hdr := map[string]string{}
		if tt.auth != "" {
			hdr["Authorization"] = tt.auth
		}
		ex, code := explainWith(t, tt.srv, tt.query, hdr)
		if code != tt.want {
			t.Errorf("%s: %d; want %d", tt.name, code, tt.want)
		}
		if code == 200 && strings.Contains(tt.query, "ip=") && ex.Client.IP != "198.51.100.1" {
			t.Errorf("%s: explained %s, not the ip parameter", tt.name, ex.Client.IP)
		}
	}
}
