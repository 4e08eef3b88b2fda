package itest

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// GeoEntry is one network of a test geo database.
type GeoEntry struct {
	Network   string // CIDR
	Country   string
	Continent string   // GeoIP2 schema only
	Lat, Lon  *float64 // GeoIP2 schema only; nil for a country-level record
}

// ASNEntry is one network of a test ASN database.
type ASNEntry struct {
	Network string // CIDR
	ASN     uint32
	Org     string
}

// WriteASNMMDB writes an ASN database of entries, in the GeoLite2-ASN
// layout, to a file in the test's temp dir.
func WriteASNMMDB(t testing.TB, entries ...ASNEntry) string {
	t.Helper()
	recs := make([]entry, len(entries))
	for k, e := range entries {
		recs[k] = entry{e.Network, mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(e.ASN),
			"autonomous_system_organization": mmdbtype.String(e.Org),
		}}
	}
	return writeTree(t, "GeoLite2-ASN", recs)
}

// entry is one network and its record.
type entry struct {
	network string
	rec     mmdbtype.Map
}

// writeTree writes the records to an mmdb of type dbType in the test's
// temp dir and returns its path.
func writeTree(t testing.TB, dbType string, entries []entry) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 28, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		_, network, err := net.ParseCIDR(e.network)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(network, e.rec); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), dbType+".mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	return path
}

// WriteMMDB writes a MaxMind database of entries to a file in the test's
// temp dir: in the GeoIP2-City schema (country.iso_code, continent.code,
// location) when flat is false, else in the flat country_code schema of
// the free ip-location-db databases.
func WriteMMDB(t testing.TB, flat bool, entries ...GeoEntry) string {
	t.Helper()
	dbType := "GeoIP2-City"
	if flat {
		dbType = "geo-whois-asn-country"
	}
	recs := make([]entry, len(entries))
	for k, e := range entries {
		var rec mmdbtype.Map
		if flat {
			rec = mmdbtype.Map{"country_code": mmdbtype.String(e.Country)}
		} else {
			rec = mmdbtype.Map{
				"country":   mmdbtype.Map{"iso_code": mmdbtype.String(e.Country)},
				"continent": mmdbtype.Map{"code": mmdbtype.String(e.Continent)},
			}
			if e.Lat != nil {
				rec["location"] = mmdbtype.Map{"latitude": mmdbtype.Float64(*e.Lat), "longitude": mmdbtype.Float64(*e.Lon)}
			}
		}
		recs[k] = entry{e.Network, rec}
	}
	return writeTree(t, dbType, recs)
}
