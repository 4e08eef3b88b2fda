package strategy

import (
	"context"
	"testing"
)

// germany is three German mirrors far apart and one in Austria, with
// coordinates, for clients placed by a city database.
var germany = []Mirror{
	{Name: "berlin", Country: "DE", Continent: "EU", Lat: 52.52, Lon: 13.40, HasLoc: true, Weight: 1, Effective: 1},
	{Name: "munich", Country: "DE", Continent: "EU", Lat: 48.14, Lon: 11.58, HasLoc: true, Weight: 1, Effective: 1},
	{Name: "hamburg", Country: "DE", Continent: "EU", Lat: 53.55, Lon: 9.99, HasLoc: true, Weight: 1, Effective: 1},
	{Name: "vienna", Country: "AT", Continent: "EU", Lat: 48.21, Lon: 16.37, HasLoc: true, Weight: 1, Effective: 1},
}

// TestGeoCells: a client placed by a city database gets the country
// tier narrowed to the nearest mirrors, computed once per half-degree
// cell: two clients of one cell share it, a client of another cell gets
// its own, the failover order starts in the tier, and past maxCells
// cells the tier is computed per request, with the same answer.
func TestGeoCells(t *testing.T) {
	p := NewPool(PoolSpec{Strategy: new(Geo), Mirrors: germany})
	augsburg := Client{Country: "DE", Continent: "EU", Lat: 48.37, Lon: 10.90, HasLoc: true, Precise: true}
	nearby := augsburg
	nearby.Lat, nearby.Lon = 48.30, 10.95 // the same cell
	kiel := Client{Country: "DE", Continent: "EU", Lat: 54.32, Lon: 10.12, HasLoc: true, Precise: true}
	s := p.set(&augsburg)
	a, b, k := p.cachedTierOf(s, &augsburg), p.cachedTierOf(s, &nearby), p.cachedTierOf(s, &kiel)
	if a == nil || a != b || a == k {
		t.Fatalf("tiers: augsburg %p, nearby %p, kiel %p; want one for the cell, another for kiel", a, b, k)
	}
	for c, want := range map[*Client]string{&augsburg: "munich", &kiel: "hamburg"} {
		for range 50 {
			if m, _ := p.Strategy.Pick(context.Background(), p, *c); m.Name != want {
				t.Fatalf("client at %.2f,%.2f got %s; want %s", c.Lat, c.Lon, m.Name, want)
			}
		}
		if r := Rank(p, *c, nil, 2); p.Mirrors[r[0]].Name != want {
			t.Errorf("failover order from %.2f,%.2f starts with %s; want %s", c.Lat, c.Lon, p.Mirrors[r[0]].Name, want)
		}
	}
	// Fill the cache; the next cell is computed per request.
	for i := 0; p.cells.Load() < maxCells; i++ {
		c := Client{Country: "DE", Continent: "EU", Lat: -89 + float64(i/700)*cellDegrees, Lon: -179 + float64(i%700)*cellDegrees, HasLoc: true, Precise: true}
		p.cachedTierOf(s, &c)
	}
	late := Client{Country: "DE", Continent: "EU", Lat: 48.40, Lon: 11.70, HasLoc: true, Precise: true} // near Munich, a new cell
	if p.cachedTierOf(s, &late) != nil {
		t.Fatal("a cell past maxCells was cached")
	}
	if m, _ := p.Strategy.Pick(context.Background(), p, late); m.Name != "munich" {
		t.Errorf("past the cache, a client near Munich got %s", m.Name)
	}
	if r := Rank(p, late, nil, 1); p.Mirrors[r[0]].Name != "munich" {
		t.Errorf("past the cache, the failover order starts with %s", p.Mirrors[r[0]].Name)
	}
}

// TestDistance checks the great-circle distance against known ones (to
// 1%): Berlin–Munich 504 km, Paris–New York 5,837 km, a point to itself
// 0, antipodes half the circumference.
func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b [2]float64
		km   float64
	}{
		{[2]float64{52.52, 13.40}, [2]float64{48.14, 11.58}, 504},
		{[2]float64{48.857, 2.352}, [2]float64{40.713, -74.006}, 5837},
		{[2]float64{10, 20}, [2]float64{10, 20}, 0},
		{[2]float64{0, 0}, [2]float64{0, 180}, 20015},
	} {
		d := newPoint(tt.a[0], tt.a[1]).distance(newPoint(tt.b[0], tt.b[1]))
		if d < tt.km*0.99-0.001 || d > tt.km*1.01+0.001 {
			t.Errorf("distance %v–%v = %.0f km; want %.0f", tt.a, tt.b, d, tt.km)
		}
	}
}

// TestGeoTiersAndNearest: a client with a location gets the best tier
// that has a usable mirror, narrowed to the mirrors within 1.5× (+50 km)
// of the nearest; a client placed by country alone keeps the whole
// country tier (its centroid says nothing of where in the country it
// is); mirrors without coordinates count only when none has any; an
// empty tier spills to the next.
func TestGeoTiersAndNearest(t *testing.T) {
	p := NewPool(PoolSpec{Strategy: new(Geo), Mirrors: germany})
	names := func(c Client) map[string]bool {
		s := p.set(&c)
		ks, _ := p.geoTier(s, &c, nil)
		out := map[string]bool{}
		for _, k := range ks {
			out[p.Mirrors[s.idx[k]].Name] = true
		}
		return out
	}
	precise := Client{Country: "DE", Continent: "EU", Lat: 48.37, Lon: 10.90, HasLoc: true, Precise: true}
	if got := names(precise); len(got) != 1 || !got["munich"] {
		t.Errorf("a precise client near Augsburg: tier %v; want munich alone", got)
	}
	byCountry := Client{Country: "DE", Continent: "EU", Lat: 51, Lon: 10, HasLoc: true}
	if got := names(byCountry); len(got) != 3 || got["vienna"] {
		t.Errorf("a client placed by country: tier %v; want the three German mirrors", got)
	}
	// Austria, Vienna's own country; Switzerland has none: its continent
	// tier, narrowed from Zurich's centroid to the nearest (Munich).
	if got := names(Client{Country: "AT", Continent: "EU", Lat: 47.5, Lon: 14.5, HasLoc: true}); len(got) != 1 || !got["vienna"] {
		t.Errorf("Austria: %v; want vienna", got)
	}
	if got := names(Client{Country: "CH", Continent: "EU", Lat: 47.37, Lon: 8.54, HasLoc: true}); !got["munich"] || got["hamburg"] || got["berlin"] {
		t.Errorf("Switzerland: %v; want munich (and whatever is within 1.5× +50 km), not Berlin or Hamburg", got)
	}
	// Japan: nothing in its country or continent: the world tier, where
	// every mirror is about 9,000 km away, within 1.5× of the nearest.
	if got := names(Client{Country: "JP", Continent: "AS", Lat: 35.7, Lon: 139.7, HasLoc: true}); len(got) != 4 {
		t.Errorf("Japan: %v; want the whole world tier", got)
	}
	// Mirrors without coordinates: the tier is not narrowed.
	bare := NewPool(PoolSpec{Strategy: new(Geo), Mirrors: []Mirror{
		{Name: "x", Country: "FR", Continent: "EU", Weight: 1, Effective: 1},
		{Name: "y", Country: "ES", Continent: "EU", Weight: 1, Effective: 1}}})
	c := Client{Country: "DE", Continent: "EU", Lat: 51, Lon: 10, HasLoc: true}
	s := bare.set(&c)
	if ks, tier := bare.geoTier(s, &c, nil); len(ks) != 2 || tier != tierContinent {
		t.Errorf("mirrors without coordinates: %d in tier %d; want both in the continent tier", len(ks), tier)
	}
}
