package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"text/tabwriter"

	"github.com/dispatcher/dispatcher/api"
)

// statsQuery is the flags of ctl stats ("" and 0: the server's default).
type statsQuery struct {
	pool, by, from, to string
	top                int
}

// stats prints a pool's downloads as a table: one row per day, mirror,
// country or file, then what no row names, and the total.
func (c *client) stats(ctx context.Context, sq statsQuery) error {
	q := url.Values{"by": {sq.by}}
	for k, v := range map[string]string{"pool": sq.pool, "from": sq.from, "to": sq.to} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if sq.top > 0 {
		q.Set("top", strconv.Itoa(sq.top))
	}
	body, err := c.do(ctx, http.MethodGet, "/api/stats?"+q.Encode(), false)
	if err != nil {
		return err
	}
	if c.json {
		c.printJSON(body)
		return nil
	}
	var st api.Stats
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("the answer of %s/api/stats is not statistics: %w", c.addr, err)
	}
	fmt.Fprintf(c.out, "pool %s, downloads by %s, %s to %s (UTC)\n\n", st.Pool, st.By, st.From, st.To)
	tw := tabwriter.NewWriter(c.out, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "DOWNLOADS\tSHARE\t  %s\n", map[string]string{"day": "DAY", "mirror": "MIRROR", "country": "COUNTRY", "file": "FILE"}[st.By])
	row := func(n uint64, key string) {
		share := "-"
		if st.Total > 0 {
			share = fmt.Sprintf("%.1f%%", 100*float64(n)/float64(st.Total))
		}
		fmt.Fprintf(tw, "%d\t%s\t  %s\n", n, share, key)
	}
	for _, r := range st.Rows {
		key := r.Key
		if r.Error > 0 {
			key += fmt.Sprintf(" (up to %d more)", r.Error)
		}
		row(r.Downloads, key)
	}
	if st.Other > 0 {
		row(st.Other, "(other)")
	}
	row(st.Total, "(total)")
	return tw.Flush()
}
