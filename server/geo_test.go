package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dispatcher/dispatcher/internal/itest"
	"github.com/dispatcher/dispatcher/server"
)

func fp(v float64) *float64 { return &v }

// Test clients: one network per place.
var geoEntries = []itest.GeoEntry{
	{Network: "198.51.100.0/26", Country: "DE", Continent: "EU", Lat: fp(48.14), Lon: fp(11.58)},   // Munich
	{Network: "198.51.100.64/26", Country: "FR", Continent: "EU"},                                  // France, no FR mirror
	{Network: "198.51.100.128/26", Country: "PL", Continent: "EU", Lat: fp(52.23), Lon: fp(21.01)}, // Warsaw
	{Network: "198.51.100.192/26", Country: "CH", Continent: "EU"},
	{Network: "203.0.113.0/24", Country: "JP", Continent: "AS"},
	{Network: "2001:db8:1::/48", Country: "JP", Continent: "AS"},
	{Network: "192.0.2.0/25", Country: "US", Continent: "NA"},
	{Network: "192.0.2.128/25", Country: "KE", Continent: "AF"}, // Kenya: no mirror on its continent
}

const geoConfig = `{
  "geoip": %q,
  "trusted_proxies": ["10.0.0.0/8"],
  "pools": [{"name": "php", "routes": ["/get/*file"], "strategy": "geo",
    "mirrors": [
      {"name": "de-berlin", "url": "http://de1.example", "country": "DE", "lat": 52.52, "lon": 13.40},
      {"name": "de-munich", "url": "https://de2.example", "country": "DE", "lat": 48.14, "lon": 11.58},
      {"name": "pt", "url": "http://pt.example", "country": "PT"},
      {"name": "at", "url": "http://at.example", "country": "AT", "countries": ["CH"]},
      {"name": "jp", "url": "http://jp.example", "country": "JP"},
      {"name": "jp-v4", "url": "http://203.0.113.250", "country": "JP"},
      {"name": "us", "url": "http://us.example", "country": "US", "weight": 2},
      {"name": "br", "url": "http://br.example", "country": "BR"}
    ]}]}`

func geoServer(t *testing.T, flat bool) *server.Server {
	t.Helper()
	db := itest.WriteMMDB(t, flat, geoEntries...)
	path := filepath.Join(t.TempDir(), "mirrors.json")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(geoConfig, db)), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{ConfigPath: path, AdminToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// picks sends n requests and counts the mirrors they went to.
func picks(t *testing.T, srv http.Handler, n int, target, remote string, hdr map[string]string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		req := httptest.NewRequest("GET", target, nil)
		req.RemoteAddr = remote
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != 302 {
			t.Fatalf("GET %s from %s = %d", target, remote, w.Code)
		}
		got[w.Header().Get("X-Mirror")]++
	}
	return got
}

func only(t *testing.T, what string, got map[string]int, allowed ...string) {
	t.Helper()
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for m := range got {
		if !ok[m] {
			t.Errorf("%s: went to %v; want only %v", what, got, allowed)
			return
		}
	}
}

func TestGeo(t *testing.T) {
	for _, flat := range []bool{false, true} {
		t.Run(map[bool]string{false: "GeoIP2 schema", true: "flat schema"}[flat], func(t *testing.T) {
			srv := geoServer(t, flat)
			// Country hit; with a city record, the nearer of two DE mirrors.
			if flat {
				only(t, "DE client", picks(t, srv, 40, "/get/x", "198.51.100.1:1", nil), "de-berlin", "de-munich")
			} else {
				only(t, "Munich client", picks(t, srv, 40, "/get/x", "198.51.100.1:1", nil), "de-munich")
			}
			// Continent spill: no FR mirror, so the European ones. From
			// France's centroid Munich is nearest (730 km) and all four EU
			// mirrors lie within 1.5× of that.
			only(t, "FR client", picks(t, srv, 60, "/get/x", "198.51.100.65:1", nil), "de-berlin", "de-munich", "at", "pt")
			// Distance: from Poland Berlin is nearest (~500 km); Lisbon
			// (~2,700 km) is not within 1.5× and drops out of the tier.
			pl := picks(t, srv, 60, "/get/x", "198.51.100.129:1", nil)
			only(t, "PL client", pl, "de-berlin", "de-munich", "at")
			if pl["de-berlin"] == 0 {
				t.Errorf("PL client never went to the nearest mirror: %v", pl)
			}
			// Extra countries: the AT mirror serves CH.
			only(t, "CH client", picks(t, srv, 20, "/get/x", "198.51.100.193:1", nil), "at")
			// IPv6 client in JP, not to the IPv4-only JP mirror.
			only(t, "JP IPv6 client", picks(t, srv, 30, "/get/x", "[2001:db8:1::9]:1", nil), "jp")
			// IPv4 client in JP: both JP mirrors.
			jp := picks(t, srv, 60, "/get/x", "203.0.113.9:1", nil)
			only(t, "JP IPv4 client", jp, "jp", "jp-v4")
			if jp["jp"] == 0 || jp["jp-v4"] == 0 {
				t.Errorf("JP IPv4 client: %v; want both JP mirrors", jp)
			}
			// No mirror on the continent: everywhere, nearest by distance.
			ke := picks(t, srv, 40, "/get/x", "192.0.2.129:1", nil)
			if ke["jp"]+ke["jp-v4"]+ke["us"]+ke["br"] == 40 {
				t.Errorf("KE client went only far away: %v", ke)
			}
			// Unknown address: weighted random over all.
			unknown := picks(t, srv, 400, "/get/x", "100.64.0.1:1", nil)
			if len(unknown) < 6 {
				t.Errorf("unknown client reached only %v", unknown)
			}
			// Through a trusted proxy, X-Forwarded-For decides.
			only(t, "JP via proxy", picks(t, srv, 20, "/get/x", "10.0.0.1:1", map[string]string{"X-Forwarded-For": "203.0.113.9"}), "jp", "jp-v4")
			// From an untrusted peer the header is ignored: US client stays US.
			only(t, "US spoofing JP", picks(t, srv, 20, "/get/x", "192.0.2.1:1", map[string]string{"X-Forwarded-For": "203.0.113.9"}), "us")
			// ?country= overrides the address.
			only(t, "?country=BR", picks(t, srv, 20, "/get/x?country=br", "192.0.2.1:1", nil), "br")
			// HTTPS via a trusted proxy: the https DE mirror, not the http one.
			if !flat {
				return
			}
			only(t, "DE over https", picks(t, srv, 30, "/get/x", "10.0.0.1:1", map[string]string{"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https"}), "de-munich")
		})
	}
}

func TestGeoLinksAndMirrorlist(t *testing.T) {
	srv := geoServer(t, false)
	req := httptest.NewRequest("GET", "/get/php.tgz?mirror=pt&x=1", nil)
	req.RemoteAddr = "198.51.100.1:1"
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	if w.Header().Get("X-Mirror") != "pt" || w.Header().Get("Location") != "http://pt.example/get/php.tgz?x=1" {
		t.Errorf("?mirror=pt: %s %s", w.Header().Get("X-Mirror"), w.Header().Get("Location"))
	}
	// The Link header names the next best for a Munich client: Munich
	// first (it was not picked), then Berlin.
	link := w.Header().Get("Link")
	if !strings.HasPrefix(link, "<https://de2.example/get/php.tgz?x=1>; rel=duplicate; pri=1, <http://de1.example/get/php.tgz?x=1>; rel=duplicate; pri=2") {
		t.Errorf("Link = %q", link)
	}
	req = httptest.NewRequest("GET", "/get/php.tgz?mirrorlist", nil)
	req.RemoteAddr = "203.0.113.9:1"
	req.Header.Set("Accept", "application/json")
	w = httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	var ml struct {
		Client struct {
			Country string `json:"country"`
		} `json:"client"`
		Mirrors []struct {
			Name string `json:"name"`
			URL  string `json:"url"`
		} `json:"mirrors"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &ml); err != nil || w.Code != 200 {
		t.Fatalf("mirrorlist: %d %v %s", w.Code, err, w.Body)
	}
	if ml.Client.Country != "JP" || len(ml.Mirrors) != 8 || !strings.HasPrefix(ml.Mirrors[0].Name, "jp") || !strings.HasPrefix(ml.Mirrors[1].Name, "jp") {
		t.Errorf("mirrorlist for a JP client = %+v", ml)
	}
	if ml.Mirrors[0].URL != "http://jp.example/get/php.tgz" && ml.Mirrors[0].URL != "http://203.0.113.250/get/php.tgz" {
		t.Errorf("mirrorlist URL = %q (the mirrorlist parameter must be removed)", ml.Mirrors[0].URL)
	}
	req = httptest.NewRequest("GET", "/get/php.tgz?mirrorlist&country=US", nil)
	w = httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	if body := w.Body.String(); w.Code != 200 || !strings.Contains(body, "<ol>") || strings.Index(body, ">us<") > strings.Index(body, ">jp<") {
		t.Errorf("HTML mirrorlist for ?country=US should list us first:\n%s", body)
	}
}

// TestGeoDrainSpills drains the only CH-serving mirror: CH clients spill
// to the next tier (the rest of Europe).
func TestGeoDrainSpills(t *testing.T) {
	srv := geoServer(t, false)
	req := httptest.NewRequest("POST", "/api/pools/php/mirrors/at/drain", nil)
	req.Header.Set("Authorization", "Bearer tok")
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("drain = %d", w.Code)
	}
	only(t, "CH client after drain", picks(t, srv, 40, "/get/x", "198.51.100.193:1", nil), "de-berlin", "de-munich")
}

// TestGeoWithoutDatabase: with no geoip configured, geo pools act as
// random (and ?country= still works); a configured database that does not
// open stops the start, naming the key.
func TestGeoWithoutDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mirrors.json")
	os.WriteFile(path, []byte(fmt.Sprintf(geoConfig, "/nonexistent.mmdb")), 0o644)
	if _, err := server.New(server.Options{ConfigPath: path}); err == nil || !strings.Contains(err.Error(), "geoip: ") {
		t.Fatalf("a geo database that does not open: %v; want an error naming geoip", err)
	}
	os.WriteFile(path, []byte(fmt.Sprintf(geoConfig, "")), 0o644)
	srv, err := server.New(server.Options{ConfigPath: path})
	if err != nil {
		t.Fatalf("no geo database configured: %v", err)
	}
	all := picks(t, srv, 400, "/get/x", "198.51.100.1:1", nil)
	if len(all) < 6 {
		t.Errorf("without a database geo must act as random: %v", all)
	}
	only(t, "?country=JP without a database", picks(t, srv, 20, "/get/x?country=JP", "198.51.100.1:1", nil), "jp", "jp-v4")
	if st := srv.Status(); st.GeoIP != "none" {
		t.Errorf("status geoip = %q; want none", st.GeoIP)
	}
}
