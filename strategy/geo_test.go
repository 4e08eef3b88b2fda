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
