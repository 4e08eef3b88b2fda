// Package countries is the table of countries the dispatcher knows: ISO
// 3166-1 alpha-2 code, continent and centroid. It imports nothing of the
// dispatcher's, so that the configuration can check country codes without
// the geo database reader.
package countries

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
)

// Country is what the table knows of a country.
type Country struct {
	Continent string
	Lat, Lon  float64
}

// countriesTSV: centroids from Google's DSPL countries.csv, continents as
// GeoNames (and MaxMind) assign them. See the file's header.
//
//go:embed countries.tsv
var countriesTSV string

var table = mustParse(countriesTSV)

func mustParse(tsv string) map[string]Country {
	m := map[string]Country{}
	for n, line := range strings.Split(tsv, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < 4 {
			panic(fmt.Sprintf("countries: countries.tsv line %d is malformed: %q", n+1, line)) // embedded at build time
		}
		lat, err1 := strconv.ParseFloat(f[2], 64)
		lon, err2 := strconv.ParseFloat(f[3], 64)
		if err1 != nil || err2 != nil {
			panic(fmt.Sprintf("countries: countries.tsv line %d is malformed: %q", n+1, line)) // embedded at build time
		}
		m[f[0]] = Country{Continent: f[1], Lat: lat, Lon: lon}
	}
	return m
}

// Lookup returns the continent and centroid of an ISO 3166-1 alpha-2
// code (upper case).
func Lookup(cc string) (Country, bool) {
	c, ok := table[cc]
	return c, ok
}
