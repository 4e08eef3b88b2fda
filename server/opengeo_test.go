package server

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dispatcher/dispatcher/config"
)

// TestOpenGeoAllOrNothing: when a database of a new configuration does
// not open (it went away after the reload's check), the databases in use
// stay in use, both of them: a later reload that does not change the
// paths installs them, not nothing.
func TestOpenGeoAllOrNothing(t *testing.T) {
	data, err := filepath.Abs(filepath.Join("..", "data"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mirrors.json")
	cfgText := `{"geoip": "` + filepath.Join(data, "geo-whois-asn-country.mmdb") + `", "asn_db": "` + filepath.Join(data, "asn.mmdb") + `",
	  "pools": [{"name": "p", "routes": ["/p/*file"], "strategy": "geo", "mirrors": [{"name": "a", "url": "http://a.example", "asn": [3320]}]}]}`
	if err := os.WriteFile(path, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{ConfigPath: path})
	if err != nil {
		t.Fatal(err)
	}
	geoDB, asnDB := s.geo, s.asn
	if geoDB == nil || asnDB == nil {
		t.Fatal("the databases did not open")
	}
	for _, broken := range []func(*config.Config){
		func(c *config.Config) { c.GeoIP = filepath.Join(t.TempDir(), "gone.mmdb") },
		func(c *config.Config) { c.ASNDB = filepath.Join(t.TempDir(), "gone.mmdb") },
	} {
		cfg := *s.gen.Load().cfg
		broken(&cfg)
		s.mu.Lock()
		err := s.openGeo(&cfg)
		s.mu.Unlock()
		if err == nil {
			t.Fatal("a database that is gone opened")
		}
		if s.geo != geoDB || s.asn != asnDB {
			t.Errorf("after a failed open the databases in use are geo %v, asn %v; want the previous ones", s.geo, s.asn)
		}
	}
}
