// Package geo locates clients: a MaxMind mmdb reader for addresses, and a
// table of countries with their continent and centroid, so that continents
// and distances work with a country-only database.
package geo

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/dispatcher/dispatcher/geo/countries"
	"github.com/dispatcher/dispatcher/strategy"
)

// Country is what the table knows of a country (package countries).
type Country = countries.Country

// LookupCountry returns the continent and centroid of an ISO 3166-1 alpha-2
// code (upper case).
func LookupCountry(cc string) (Country, bool) { return countries.Lookup(cc) }

// DB is an open mmdb file. It is safe for concurrent use.
type DB struct {
	r    *maxminddb.Reader
	Path string
	Type string // the database_type of its metadata
	// byNet keeps the answers for the networks asked about lately.
	byNet netCache[Location]
}

// record reads both schemas: GeoIP2/GeoLite2 (country.iso_code,
// continent.code, location) and the flat one of the free databases
// (country_code).
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
	CountryCode string `maxminddb:"country_code"`
}

// Open opens an mmdb file and checks that it answers a lookup.
func Open(path string) (*DB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip %s: %w", path, err)
	}
	d := &DB{r: r, Path: path, Type: r.Metadata.DatabaseType}
	var rec record
	if err := r.Lookup(netip.MustParseAddr("1.1.1.1")).Decode(&rec); err != nil {
		r.Close()
		return nil, fmt.Errorf("geoip %s: records do not decode: %w", path, err)
	}
	return d, nil
}

// Close releases the file.
func (d *DB) Close() error { return d.r.Close() }

// ErrNotFound is returned by Lookup for an address the database does not know.
var ErrNotFound = errors.New("address not in the database")

// Location is where an address is.
type Location struct {
	Country, Continent string
	Lat, Lon           float64
	// Precise is set when the database gave coordinates (a city database);
	// otherwise they are the country's centroid.
	Precise bool
	HasLoc  bool
}

// Lookup finds addr.
func (d *DB) Lookup(addr netip.Addr) (Location, error) {
	addr = addr.Unmap()
	if loc, found, ok := d.byNet.get(addr); ok {
		if !found {
			return Location{}, ErrNotFound
		}
		return loc, nil
	}
	res := d.r.Lookup(addr)
	loc, err := decodeLocation(res)
	if err == nil || err == ErrNotFound {
		d.byNet.put(addr, res, err == nil, loc)
	}
	return loc, err
}

// decodeLocation reads the location of a lookup's record.
func decodeLocation(res maxminddb.Result) (Location, error) {
	var rec record
	if err := res.Decode(&rec); err != nil {
		return Location{}, err
	}
	if !res.Found() {
		return Location{}, ErrNotFound
	}
	var loc Location
	loc.Country = strings.ToUpper(cmp.Or(rec.Country.ISOCode, rec.CountryCode, rec.RegisteredCountry.ISOCode))
	loc.Continent = rec.Continent.Code
	if rec.Location.Latitude != nil && rec.Location.Longitude != nil {
		loc.Lat, loc.Lon, loc.Precise, loc.HasLoc = *rec.Location.Latitude, *rec.Location.Longitude, true, true
	}
	if c, ok := countries.Lookup(loc.Country); ok {
		if loc.Continent == "" {
			loc.Continent = c.Continent
		}
		if !loc.HasLoc {
			loc.Lat, loc.Lon, loc.HasLoc = c.Lat, c.Lon, true
		}
	}
	if loc.Country == "" && loc.Continent == "" {
		return Location{}, ErrNotFound
	}
	return loc, nil
}

// Locate implements handlers.Locator: it fills c from c.IP. An address the
// database does not know leaves c without a location.
func (d *DB) Locate(c *strategy.Client) {
	loc, err := d.Lookup(c.IP)
	if err != nil {
		return
	}
	c.Country, c.Continent = loc.Country, loc.Continent
	c.Lat, c.Lon, c.HasLoc, c.Precise = loc.Lat, loc.Lon, loc.HasLoc, loc.Precise
}

// LocateCountry implements handlers.Locator: it places c in country cc.
func (d *DB) LocateCountry(c *strategy.Client, cc string) bool {
	return PlaceInCountry(c, cc)
}

// PlaceInCountry places c at the centroid of country cc, reporting whether
// cc is known.
func PlaceInCountry(c *strategy.Client, cc string) bool {
	k, ok := countries.Lookup(cc)
	if !ok {
		return false
	}
	c.Country, c.Continent = cc, k.Continent
	c.Lat, c.Lon, c.HasLoc, c.Precise = k.Lat, k.Lon, true, false
	return true
}

// Table is a Locator without a database: addresses stay unknown, but
// ?country=XX still places a client.
type Table struct{}

// Locate implements handlers.Locator; without a database it knows nothing.
func (Table) Locate(*strategy.Client) {}

// LocateCountry implements handlers.Locator.
func (Table) LocateCountry(c *strategy.Client, cc string) bool { return PlaceInCountry(c, cc) }
