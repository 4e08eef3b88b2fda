package stats

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/dispatcher/dispatcher/api"
)

// What a query groups by.
const (
	ByDay     = "day"
	ByMirror  = "mirror"
	ByCountry = "country"
	ByFile    = "file"
)

// MaxDays is the longest range a query reads.
const MaxDays = 366

// Query asks for a pool's downloads from From to To (both included).
type Query struct {
	Pool     string
	By       string
	From, To Day
	// Top is how many rows at most (0: all).
	Top int
}

// Check says what is wrong with q, in words for the caller.
func (q Query) Check() error {
	switch q.By {
	case ByDay, ByMirror, ByCountry, ByFile:
	default:
		return fmt.Errorf("by must be day, mirror, country or file, got %q", q.By)
	}
	if q.From > q.To {
		return fmt.Errorf("from %s is after to %s", q.From, q.To)
	}
	if n := int(q.To-q.From) + 1; n > MaxDays {
		return fmt.Errorf("from %s to %s is %d days; at most %d are read at once", q.From, q.To, n, MaxDays)
	}
	if q.Top < 0 {
		return fmt.Errorf("top must not be negative, got %d", q.Top)
	}
	return nil
}

// Run answers q from b. Rows are sorted by downloads, most first, then
// by key.
func Run(ctx context.Context, b Backend, q Query) (api.Stats, error) {
	if err := q.Check(); err != nil {
		return api.Stats{}, err
	}
	out := api.Stats{Pool: q.Pool, By: q.By, From: q.From.String(), To: q.To.String(), Rows: []api.StatsRow{}}
	rows := map[string]*api.StatsRow{}
	row := func(k string) *api.StatsRow {
		r := rows[k]
		if r == nil {
			r = &api.StatsRow{Key: k}
			rows[k] = r
		}
		return r
	}
	for d := q.From; d <= q.To; d++ {
		f, err := b.Read(ctx, PoolDay{q.Pool, d}, q.By == ByFile)
		if err != nil {
			return api.Stats{}, err
		}
		out.Total += f.Total
		switch q.By {
		case ByDay:
			row(d.String()).Downloads += f.Total
		case ByMirror:
			for k, n := range f.Mirrors {
				row(k).Downloads += n
			}
		case ByCountry:
			for k, n := range f.Countries {
				row(k).Downloads += n
			}
		case ByFile:
			for k, n := range f.Files {
				row(k).Downloads += n
			}
			for k, e := range f.Summary {
				r := row(k)
				r.Downloads += e.Count - e.Err
				r.Error += e.Err
			}
		}
	}
	for _, r := range rows {
		out.Rows = append(out.Rows, *r)
	}
	slices.SortFunc(out.Rows, func(a, b api.StatsRow) int {
		return cmp.Or(cmp.Compare(b.Downloads, a.Downloads), cmp.Compare(a.Key, b.Key))
	})
	if q.Top > 0 && len(out.Rows) > q.Top {
		out.Rows = out.Rows[:q.Top]
	}
	listed := uint64(0)
	for _, r := range out.Rows {
		listed += r.Downloads
	}
	out.Other = out.Total - min(listed, out.Total)
	return out, nil
}
