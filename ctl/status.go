package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dispatcher/dispatcher/api"
)

func (c *client) getStatus(ctx context.Context) (*api.Status, []byte, error) {
	body, err := c.do(ctx, http.MethodGet, "/api/status", false)
	if err != nil {
		return nil, nil, err
	}
	var st api.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, nil, fmt.Errorf("the answer of %s/api/status is not a dispatcher status: %w", c.addr, err)
	}
	return &st, body, nil
}

// status prints the pools and mirrors as a table; redirects/s is measured
// between two reads interval apart (none when interval is 0).
func (c *client) status(ctx context.Context, interval time.Duration) error {
	first, body, err := c.getStatus(ctx)
	if err != nil {
		return err
	}
	if c.json {
		c.printJSON(body)
		return nil
	}
	last, took := first, time.Duration(0)
	if interval > 0 {
		start := time.Now()
		select {
		case <-time.After(interval):
		case <-ctx.Done():
			return ctx.Err()
		}
		if last, _, err = c.getStatus(ctx); err != nil {
			return err
		}
		took = time.Since(start)
	}
	writeStatus(c, first, last, took)
	return nil
}

// mirrorState is a mirror's state in one word.
func mirrorState(m *api.MirrorStatus) string {
	switch {
	case !m.Enabled:
		return "drained"
	case !m.Up:
		return "down"
	case m.EffectiveWeight == 0:
		return "saturated"
	}
	return "up"
}

func writeStatus(c *client, first, last *api.Status, took time.Duration) {
	redis := "none (state lives in this process)"
	if last.Redis.Configured {
		redis = "connected"
		if !last.Redis.Connected {
			redis = "unreachable, in-process fallback: " + last.Redis.Error
		}
	}
	fmt.Fprintf(c.out, "dispatcher %s  up since %s  redis %s\nconfig %s (sha256 %.12s)\n\n", c.addr,
		last.Started.Format(time.RFC3339), redis, last.ConfigFile, last.ConfigSHA256)
	before := map[string]uint64{}
	for _, p := range first.Pools {
		for _, m := range p.Mirrors {
			before[p.Name+"\x00"+m.Name] = m.Redirects
		}
	}
	tw := tabwriter.NewWriter(c.out, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "POOL\tSTRATEGY\tMIRROR\tSTATE\tWEIGHT\tEFFECTIVE\tUTIL\tREDIRECTS/S\tNOTE")
	for _, p := range last.Pools {
		for i, m := range p.Mirrors {
			pool, strat := p.Name, p.Strategy
			if i > 0 {
				pool, strat = "", ""
			}
			rate := "-"
			if took > 0 {
				rate = fmt.Sprintf("%.1f", float64(m.Redirects-before[p.Name+"\x00"+m.Name])/took.Seconds())
			}
			util := "-"
			if m.LastPoll != nil {
				util = fmt.Sprintf("%.0f%%", 100*m.Utilization)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%g\t%.3g\t%s\t%s\t%s\n", pool, strat, m.Name, mirrorState(&m),
				m.Weight, m.EffectiveWeight, util, rate, mirrorNote(&m))
		}
		if p.Usable == 0 {
			fmt.Fprintf(tw, "\t\t(no usable mirror: requests get %s)\t\t\t\t\t\t\n", fallbackOr503(p.Fallback))
		}
	}
	tw.Flush()
}

func fallbackOr503(fallback string) string {
	if fallback != "" {
		return "the fallback " + fallback
	}
	return "503"
}

// mirrorNote is what an operator should read first about a mirror.
func mirrorNote(m *api.MirrorStatus) string {
	var notes []string
	if m.ProbeError != "" {
		notes = append(notes, "probe: "+m.ProbeError)
	}
	if m.PollError != "" {
		notes = append(notes, "snmp: "+m.PollError)
	}
	if f := m.Files; f != nil {
		if f.Missing+f.Outdated > 0 {
			notes = append(notes, fmt.Sprintf("files: %d missing, %d outdated", f.Missing, f.Outdated))
		}
		if f.ScanError != "" {
			notes = append(notes, "scan: "+f.ScanError)
		}
	}
	return strings.Join(notes, "; ")
}
