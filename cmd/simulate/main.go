// Command simulate runs the balance simulator (package sim): a mirror pool
// in virtual time, driven by the real strategies and the real feedback
// law, for every strategy with and without feedback. See docs/balance.md.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dispatcher/dispatcher/feedback"
	"github.com/dispatcher/dispatcher/sim"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "simulate:", err)
		os.Exit(2)
	}
}

const usage = `Usage: simulate [flags]

Runs a mirror pool in virtual time for each strategy, with and without
feedback, and prints the balance table (or JSON with -json).

Mirrors are CAPACITY_MBPS[xWEIGHT][/COUNTRY], comma separated:
  -mirrors 100,400,1000          three mirrors, equal weights
  -mirrors 100x1/DE,1000x10/US   weights and countries (geo)

Flags:
`

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	mirrors := fs.String("mirrors", "100,400,1000", "the mirrors (see above)")
	strategies := fs.String("strategy", "random,roundrobin,iphash,geo", "strategies to run, comma separated")
	feedbackMode := fs.String("feedback", "both", "with feedback: on, off or both")
	seed := fs.Uint64("seed", 1, "random seed (a run is a pure function of its flags)")
	duration := fs.Duration("duration", 24*time.Hour, "simulated time")
	warmup := fs.Duration("warmup", time.Hour, "simulated time not measured, at the start")
	load := fs.Float64("load", 0.6, "mean utilisation of the pool's links the arrivals are set for")
	rate := fs.Float64("rate", 0, "mean requests per second (overrides -load)")
	poll := fs.Duration("poll", 10*time.Second, "SNMP poll period")
	instances := fs.Int("instances", 1, "dispatcher instances sharing the clients")
	lag := fs.Duration("lag", 2*time.Second, "time over which the instances adopt new weights after a poll")
	change := fs.String("change", "auto", `a mirror leaves and comes back: "auto" (the second biggest, from 25% to 37.5% of the run), "none", or NAME@LEAVE-BACK in hours (m2@12-18)`)
	dominant := fs.Float64("dominant", 0, "share of the requests from one client downloading the hot ISO at 1 Gbit/s")
	swing := fs.Float64("swing", 0.3, "amplitude of the daily cycle of arrivals")
	// -1: the workload's own share. flag.Func prints no default of its
	// own, so the help names the workload's once.
	hot, tail := -1.0, -1.0
	fs.Func("hot", "share of requests for the 3 GB hot ISO (default 0.02)", shareFlag(&hot))
	fs.Func("tail", "share of requests from the Pareto tail of big files (default 0.08)", shareFlag(&tail))
	spike := fs.String("spike", "", "a release-day spike AT-FOR xFACTOR in hours, e.g. 14-16x2")
	law := fs.String("law", "capacity", `the feedback law: "capacity" (headroom × link capacity, the default) or "fraction" (headroom alone, the law before)`)
	svgDir := fs.String("svg", "", "write per-mirror utilisation and weight plots (SVG) to this directory")
	asJSON := fs.Bool("json", false, `print {"runs": […]} as JSON`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	ms, err := parseMirrors(*mirrors)
	if err != nil {
		return err
	}
	w := sim.DefaultWorkload()
	w.DailySwing, w.DominantShare = *swing, *dominant
	if hot >= 0 {
		w.HotShare = hot
	}
	if tail >= 0 {
		w.TailShare = tail
	}
	if *spike != "" {
		if w.SpikeAt, w.SpikeFor, w.SpikeFactor, err = parseSpike(*spike); err != nil {
			return err
		}
	}
	w.Countries = countryMix(ms)
	changes, err := parseChange(*change, ms, *duration)
	if err != nil {
		return err
	}
	l := feedback.DefaultLaw
	switch *law {
	case "capacity":
	case "fraction":
		l.ByCapacity = false
	default:
		return fmt.Errorf("-law %q: want capacity or fraction", *law)
	}
	var modes []bool
	switch *feedbackMode {
	case "both":
		modes = []bool{false, true}
	case "on":
		modes = []bool{true}
	case "off":
		modes = []bool{false}
	default:
		return fmt.Errorf("-feedback %q: want on, off or both", *feedbackMode)
	}
	var results []*sim.Result
	for _, st := range strings.Split(*strategies, ",") {
		for _, fb := range modes {
			cfg := sim.Config{Mirrors: ms, Strategy: strings.TrimSpace(st), Feedback: fb, Law: l, Seed: *seed,
				Duration: *duration, Warmup: *warmup, Load: *load, Rate: *rate, Poll: *poll,
				Instances: *instances, Lag: *lag, Workload: w, Changes: changes, Series: *svgDir != ""}
			res, err := sim.Run(cfg)
			if err != nil {
				return err
			}
			results = append(results, res)
			if *svgDir != "" {
				if err := writePlots(*svgDir, res); err != nil {
					return err
				}
			}
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Runs []*sim.Result `json:"runs"`
		}{results})
	}
	printTable(stdout, results)
	return nil
}

// parseMirrors reads CAPACITY[xWEIGHT][/COUNTRY],…
func parseMirrors(s string) ([]sim.Mirror, error) {
	var ms []sim.Mirror
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		m := sim.Mirror{Name: fmt.Sprintf("m%d", i+1), Weight: 1}
		if rest, cc, ok := strings.Cut(item, "/"); ok {
			item, m.Country = rest, strings.ToUpper(cc)
		}
		if rest, wt, ok := strings.Cut(item, "x"); ok {
			v, err := strconv.ParseFloat(wt, 64)
			if err != nil || v <= 0 {
				return nil, fmt.Errorf("-mirrors: weight %q of mirror %d is not a positive number", wt, i+1)
			}
			item, m.Weight = rest, v
		}
		mbps, err := strconv.ParseFloat(item, 64)
		if err != nil || mbps <= 0 {
			return nil, fmt.Errorf("-mirrors: capacity %q of mirror %d is not a positive number of Mbit/s", item, i+1)
		}
		m.CapacityBps = mbps * 1e6
		ms = append(ms, m)
	}
	return ms, nil
}

func parseSpike(s string) (at, dur, factor float64, err error) {
	span, f, ok := strings.Cut(s, "x")
	from, to, ok2 := strings.Cut(span, "-")
	a, err1 := strconv.ParseFloat(from, 64)
	b, err2 := strconv.ParseFloat(to, 64)
	factor, err3 := strconv.ParseFloat(f, 64)
	if !ok || !ok2 || err1 != nil || err2 != nil || err3 != nil || b <= a || factor <= 0 {
		return 0, 0, 0, fmt.Errorf("-spike %q: want FROM-TOxFACTOR in hours, e.g. 14-16x2", s)
	}
	return a * 3600, (b - a) * 3600, factor, nil
}

func parseChange(s string, ms []sim.Mirror, d time.Duration) ([]sim.Change, error) {
	switch s {
	case "none":
		return nil, nil
	case "auto":
		// The second biggest mirror, from a quarter to three eighths of
		// the run (06:00 to 09:00 of a day, below the mean load): its
		// leaving moves a good part of the load, and the others can
		// carry it.
		if len(ms) < 2 {
			return nil, nil
		}
		order := make([]int, len(ms))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return ms[order[a]].CapacityBps > ms[order[b]].CapacityBps })
		m := order[1]
		return []sim.Change{{At: 0.25 * d.Seconds(), Mirror: m}, {At: 0.375 * d.Seconds(), Mirror: m, Up: true}}, nil
	}
	name, span, ok := strings.Cut(s, "@")
	from, to, ok2 := strings.Cut(span, "-")
	a, err1 := strconv.ParseFloat(from, 64)
	b, err2 := strconv.ParseFloat(to, 64)
	idx := -1
	for i, m := range ms {
		if m.Name == name {
			idx = i
		}
	}
	if !ok || !ok2 || err1 != nil || err2 != nil || b <= a || idx < 0 {
		return nil, fmt.Errorf("-change %q: want auto, none or NAME@LEAVE-BACK in hours, NAME one of m1…m%d", s, len(ms))
	}
	return []sim.Change{{At: a * 3600, Mirror: idx}, {At: b * 3600, Mirror: idx, Up: true}}, nil
}

// countryMix is where the clients are: half in the mirrors' countries,
// half spread over a few big markets.
func countryMix(ms []sim.Mirror) []sim.Weighted {
	var mix []sim.Weighted
	for _, m := range ms {
		if m.Country != "" {
			mix = append(mix, sim.Weighted{Value: m.Country, Weight: 1})
		}
	}
	for _, cc := range []string{"US", "DE", "BR", "JP", "IN", "FR", "GB", "CN", "AU", "ZA"} {
		mix = append(mix, sim.Weighted{Value: cc, Weight: float64(max(len(mix), 1)) / 10})
	}
	return mix
}

func printTable(w io.Writer, rs []*sim.Result) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\tfeedback\tbalance\tsaturated s\tp50 s\tp95 s\tweight sd\tsettle s\trequests\t")
	for _, r := range rs {
		fb := "off"
		if r.Feedback {
			fb = "on"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.0f\t%.2f\t%.1f\t%.3f\t%.0f\t%d\t\n", r.Strategy, fb, r.Balance, r.SaturatedS,
			r.P50S, r.P95S, r.WeightStddev, r.SettleS, r.Requests)
	}
	tw.Flush()
}

func writePlots(dir string, r *sim.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fb := "off"
	if r.Feedback {
		fb = "on"
	}
	name := filepath.Join(dir, fmt.Sprintf("%s-feedback-%s.svg", r.Strategy, fb))
	return os.WriteFile(name, []byte(sim.Plot(r, fmt.Sprintf("%s, feedback %s", r.Strategy, fb))), 0o644)
}

// shareFlag parses a share between 0 and 1 into dst.
func shareFlag(dst *float64) func(string) error {
	return func(s string) error {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 || v > 1 {
			return fmt.Errorf("%q is not a share between 0 and 1", s)
		}
		*dst = v
		return nil
	}
}
