package server

import (
	"errors"
	"fmt"

	"github.com/dispatcher/dispatcher/config"
	"github.com/dispatcher/dispatcher/geo"
	"github.com/dispatcher/dispatcher/handlers"
	"github.com/dispatcher/dispatcher/store"
)

// Load reads the configuration at path and checks it whole, in one pass:
// config.Load's checks of the file and Check's of what it names outside
// itself (routes, Redis URL, origins, geo database), every problem at
// once; a path the file's checks found wrong is not reported twice. Start,
// reload and -check all load through it, so they refuse the same things.
func Load(path string, o config.Overrides) (*config.Config, error) {
	cfg, err := config.LoadPartial(path, o)
	var errs config.Errors
	if err != nil && !errors.As(err, &errs) {
		return nil, err
	}
	if cfg != nil {
		reported := make(map[string]bool, len(errs))
		for _, e := range errs {
			reported[e.Path] = true
		}
		var more config.Errors
		errors.As(Check(cfg), &more)
		for _, e := range more {
			if !reported[e.Path] {
				errs = append(errs, e)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

// Check checks what the configuration needs from the other packages: pool
// routes the router can serve beside the built-in endpoints, a Redis URL
// the store can use, and a geo database that opens. It returns
// config.Errors naming the file and JSON path.
func Check(cfg *config.Config) error {
	var errs config.Errors
	add := func(path, msg string) { errs = append(errs, &config.Error{File: cfg.File, Path: path, Msg: msg}) }
	names := make([]string, len(cfg.Pools))
	routes := make([][]string, len(cfg.Pools))
	for i, p := range cfg.Pools {
		names[i], routes[i] = p.Name, p.Routes
	}
	for _, pr := range handlers.CheckRoutes(names, routes) {
		add(fmt.Sprintf("pools[%d].routes[%d]", pr.Pool, pr.Route), pr.Msg)
	}
	if cfg.Redis != "" {
		if _, err := store.ParseURL(cfg.Redis); err != nil {
			add("redis", err.Error())
		}
	}
	checkFiles(cfg, add)
	if cfg.GeoIP != "" {
		db, err := geo.Open(cfg.GeoIP)
		if err != nil {
			add("geoip", err.Error())
		} else {
			db.Close() //nolint:errcheck // opened to check it
		}
	}
	if cfg.ASNDB != "" {
		db, err := geo.OpenASN(cfg.ASNDB)
		if err != nil {
			add("asn_db", err.Error())
		} else {
			db.Close() //nolint:errcheck // opened to check it
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// openGeo opens the configured geo and ASN databases and puts them in
// use together, or neither: a database that does not open is an error
// (Check reports it first) and leaves the ones in use as they were, so
// that a failed reload cannot leave a later one without them. With no
// geo database, geo pools act as random, and the log says so once.
// Callers hold s.mu. The previous databases are not closed: requests of
// the previous generation may still read them (their memory maps stay
// until the process ends; a reload that changes a path costs that much).
func (s *Server) openGeo(cfg *config.Config) error {
	var asn *geo.ASNDB
	if cfg.ASNDB != "" {
		db, err := geo.OpenASN(cfg.ASNDB)
		if err != nil {
			return config.Errors{{File: cfg.File, Path: "asn_db", Msg: err.Error()}}
		}
		asn = db
	}
	var gdb *geo.DB
	if cfg.GeoIP != "" {
		db, err := geo.Open(cfg.GeoIP)
		if err != nil {
			if asn != nil {
				asn.Close() //nolint:errcheck // never put in use
			}
			return config.Errors{{File: cfg.File, Path: "geoip", Msg: err.Error()}}
		}
		gdb = db
	}
	s.geo, s.asn = gdb, asn
	if asn != nil {
		s.log.Info("asn database opened", "file", cfg.ASNDB, "type", asn.Type)
	}
	if gdb != nil {
		s.log.Info("geoip database opened", "file", cfg.GeoIP, "type", gdb.Type)
		return nil
	}
	for _, p := range cfg.Pools {
		if p.Strategy == config.Geo {
			s.log.Warn("no geoip database configured: geo pools act as random (?country= still works)")
			break
		}
	}
	return nil
}

// asnLookup is the generation's ASN database (nil: none).
func (g *generation) asnLookup() handlers.ASNLookup {
	if g.asn != nil {
		return g.asn
	}
	return nil
}

// locator is the generation's geo database, or the country table alone.
func (g *generation) locator() handlers.Locator {
	if g.geo != nil {
		return g.geo
	}
	return geo.Table{}
}
