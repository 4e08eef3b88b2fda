package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"text/tabwriter"

	"github.com/dispatcher/dispatcher/api"
)

// explain prints why a client gets the mirror it gets for path.
func (c *client) explain(ctx context.Context, path, ip, country string) error {
	q := url.Values{"path": {path}}
	if ip != "" {
		q.Set("ip", ip)
	}
	if country != "" {
		q.Set("country", country)
	}
	// Explaining another address needs the admin token.
	body, err := c.do(ctx, http.MethodGet, "/api/explain?"+q.Encode(), ip != "")
	if err != nil {
		return err
	}
	if c.json {
		c.printJSON(body)
		return nil
	}
	var ex api.Explanation
	if err := json.Unmarshal(body, &ex); err != nil {
		return fmt.Errorf("the answer of %s/api/explain is not an explanation: %w", c.addr, err)
	}
	cl := ex.Client
	where := "location unknown"
	if cl.Country != "" || cl.Continent != "" {
		where = fmt.Sprintf("country %s, continent %s", orDash(cl.Country), orDash(cl.Continent))
	}
	fmt.Fprintf(c.out, "%s\nclient   %s (%s), from %s\npool     %s, strategy %s\n", ex.Path, cl.IP, where, cl.Source, ex.Pool, ex.Strategy)
	if f := ex.File; f != nil {
		switch {
		case !f.Scanned:
			fmt.Fprintln(c.out, "file     not scanned yet: any mirror")
		case !f.Known:
			fmt.Fprintf(c.out, "file     not in the origin: requests get %q\n", f.Answer)
		default:
			fmt.Fprintf(c.out, "file     %d bytes, held by %d mirrors\n", *f.Size, f.Holders)
		}
	}
	if ex.Mirror != nil {
		fmt.Fprintf(c.out, "mirror   %s\n", *ex.Mirror)
	} else {
		fmt.Fprintln(c.out, "mirror   -")
	}
	if ex.Note != "" {
		fmt.Fprintf(c.out, "note     %s\n", ex.Note)
	}
	fmt.Fprintln(c.out)
	tw := tabwriter.NewWriter(c.out, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "MIRROR\tWEIGHT\tEFFECTIVE\tSHARE\tREASON")
	for _, m := range ex.Mirrors {
		fmt.Fprintf(tw, "%s\t%g\t%.3g\t%.1f%%\t%s\n", m.Name, m.Weight, m.EffectiveWeight, 100*m.Share, m.Reason)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
