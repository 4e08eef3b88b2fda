// Package sim is a discrete-event simulation of a mirror pool in virtual
// time: clients arrive, a dispatcher picks a mirror with the real strategy
// package, downloads share each mirror's link, SNMP-like counters are
// polled and turned into weights by the real feedback law. A simulated day
// runs in seconds. cmd/simulate is its command line; docs/balance.md says
// what it found.
package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/dispatcher/dispatcher/feedback"
	"github.com/dispatcher/dispatcher/geo"
	"github.com/dispatcher/dispatcher/strategy"
)

// epoch is the wall-clock time of simulated time 0 (the law wants times).
var epoch = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

func at(t float64) time.Time { return epoch.Add(time.Duration(t * float64(time.Second))) }

// run is the state of one simulation.
type run struct {
	cfg       Config
	rng       *rand.Rand
	picks     *rand.Rand // the strategies' draws
	links     []*link
	pollers   []*feedback.Poller
	pools     []*strategy.Pool
	seq       *strategy.LocalSequence
	requests  *sampler
	res       Result
	hist      histogram
	measureAt float64
	// adoption: instance i adopts the weights published at poll time p at
	// p + lag*i/instances.
	adopt    []adoption
	satCount int
	satSince float64
	lastSent []float64
	lastPoll float64
	// sentStart is every link's counter when the measured window starts.
	sentStart []float64
	started   bool
	active    int       // downloads in progress, over all links
	nexts     []float64 // per link, its next completion (links[i].next, packed for the event loop)
	// rateSecond and rateValue cache the arrival rate of one second.
	rateSecond, rateValue float64
	shares                [][]float64 // per poll, effective weight share per mirror
	shareTime             []float64
	ratios                [][]float64 // per poll, effective ÷ configured per mirror
}

// Run runs one simulation.
func Run(cfg Config) (*Result, error) {
	if len(cfg.Mirrors) == 0 {
		return nil, fmt.Errorf("no mirrors")
	}
	if _, ok := strategy.ByName(cfg.Strategy); !ok {
		return nil, fmt.Errorf("unknown strategy %q (want random, roundrobin, iphash or geo)", cfg.Strategy)
	}
	if cfg.Law == (feedback.Law{}) {
		cfg.Law = feedback.DefaultLaw
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 10 * time.Second
	}
	if cfg.Instances <= 0 {
		cfg.Instances = 1
	}
	if cfg.Duration <= 0 {
		return nil, fmt.Errorf("duration must be positive")
	}
	w := &cfg.Workload
	mean := cfg.Rate
	if mean <= 0 {
		if cfg.Load <= 0 {
			return nil, fmt.Errorf("set a load or a rate")
		}
		var capacity float64
		for _, m := range cfg.Mirrors {
			capacity += m.CapacityBps
		}
		mean = cfg.Load * capacity / 8 / w.meanBytes(cfg.Seed, 200_000)
	}
	r := &run{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 1)), picks: rand.New(rand.NewPCG(cfg.Seed, 2)), seq: new(strategy.LocalSequence)}
	r.res = Result{Strategy: cfg.Strategy, Feedback: cfg.Feedback, Utilization: map[string]float64{}}
	var countries *table
	if len(w.Countries) > 0 && cfg.Strategy == strategy.NameGeo { // only geo looks
		countries = newTable(w.Countries)
	}
	r.requests = newSampler(&r.cfg.Workload, countries)
	r.requests.addresses = cfg.Strategy == strategy.NameIPHash
	configured := make([]float64, len(cfg.Mirrors))
	for i, m := range cfg.Mirrors {
		r.links = append(r.links, newLink(m.CapacityBps))
		r.pollers = append(r.pollers, feedback.NewPoller(cfg.Law, m.CapacityBps, 0))
		configured[i] = weightOf(m)
	}
	r.lastSent = make([]float64, len(cfg.Mirrors))
	r.nexts = make([]float64, len(cfg.Mirrors))
	for i := range r.nexts {
		r.nexts[i] = math.Inf(1)
	}
	r.sentStart = make([]float64, len(cfg.Mirrors))
	r.pools = make([]*strategy.Pool, cfg.Instances)
	for i := range r.pools {
		r.pools[i] = r.pool(configured)
	}
	if cfg.Series {
		r.res.Series = &Series{Changes: cfg.Changes, Utilization: make([][]float64, len(cfg.Mirrors)), Weight: make([][]float64, len(cfg.Mirrors))}
		for _, m := range cfg.Mirrors {
			r.res.Series.Mirrors = append(r.res.Series.Mirrors, m.Name)
		}
	}
	r.loop(mean)
	return &r.res, nil
}

func weightOf(m Mirror) float64 {
	if m.Weight > 0 {
		return m.Weight
	}
	return 1
}

// pool builds a dispatcher's pool with effective weights ws.
func (r *run) pool(ws []float64) *strategy.Pool {
	st, _ := strategy.ByNameWith(r.cfg.Strategy, r.picks.Uint64)
	ms := make([]strategy.Mirror, len(r.cfg.Mirrors))
	for i, m := range r.cfg.Mirrors {
		ms[i] = strategy.Mirror{Name: m.Name, URL: "http://" + m.Name + ".example", Country: m.Country,
			Weight: weightOf(m), Effective: ws[i], HTTPS: true, IPv6: true}
		if c, ok := geo.LookupCountry(m.Country); ok {
			ms[i].Continent, ms[i].Lat, ms[i].Lon, ms[i].HasLoc = c.Continent, c.Lat, c.Lon, true
		}
	}
	return strategy.NewPool(strategy.PoolSpec{Name: "sim", Strategy: st, Mirrors: ms, Seq: r.seq})
}

// loop runs the events in time order until the end: arrivals (thinned
// Poisson), completions, polls, adoptions and changes.
func (r *run) loop(mean float64) {
	end := r.cfg.Duration.Seconds()
	r.measureAt = r.cfg.Warmup.Seconds()
	poll := r.cfg.Poll.Seconds()
	// Arrivals: Poisson at a rate held for each simulated second (the
	// daily cycle and the spike move slower than that). A gap that runs
	// past the second is drawn again from its end at the next second's
	// rate, which is exact for a piecewise-constant rate (no memory).
	nextArrival := r.arrivalAfter(mean, 0)
	nextPoll := poll
	changes := append([]Change(nil), r.cfg.Changes...)
	ctx := context.Background()
	for {
		t, kind, li := nextArrival, 0, -1
		for i, next := range r.nexts {
			if next < t {
				t, kind, li = next, 1, i
			}
		}
		if nextPoll < t {
			t, kind = nextPoll, 2
		}
		if len(r.adopt) > 0 && r.adopt[0].at < t {
			t, kind = r.adopt[0].at, 3
		}
		if len(changes) > 0 && changes[0].At < t {
			t, kind = changes[0].At, 4
		}
		if !r.started && t >= r.measureAt {
			r.started = true
			for i, l := range r.links {
				l.advance(r.measureAt)
				r.sentStart[i] = l.sent
			}
		}
		if t >= end {
			break
		}
		switch kind {
		case 0:
			r.arrive(ctx, t)
			nextArrival = r.arrivalAfter(mean, t)
		case 1:
			r.completed(t, r.links[li])
			r.nexts[li] = r.links[li].next
		case 2:
			r.poll(t)
			nextPoll = t + poll
		case 3:
			a := r.adopt[0]
			r.adopt = r.adopt[1:]
			r.pools[a.instance] = r.pool(a.weights)
		case 4:
			c := changes[0]
			changes = changes[1:]
			r.links[c.Mirror].up = c.Up
			r.publish(t, false) // the health probe: taken out or back at once
		}
	}
	r.finish(end)
}

// lookupCountry is geo.LookupCountry, without a map lookup for no country.
func lookupCountry(cc string) (geo.Country, bool) {
	if cc == "" {
		return geo.Country{}, false
	}
	return geo.LookupCountry(cc)
}

// arrivalAfter returns the time of the next arrival after t.
func (r *run) arrivalAfter(mean, t float64) float64 {
	for {
		sec := math.Floor(t)
		if sec != r.rateSecond || r.rateValue == 0 {
			r.rateSecond, r.rateValue = sec, r.cfg.Workload.rate(mean, sec)
		}
		next := t + r.rng.ExpFloat64()/r.rateValue
		if next < sec+1 {
			return next
		}
		t = sec + 1
	}
}

// arrive dispatches one request at t.
func (r *run) arrive(ctx context.Context, t float64) {
	q := r.requests.draw(r.rng)
	p := r.pools[0]
	if len(r.pools) > 1 {
		p = r.pools[r.rng.IntN(len(r.pools))]
	}
	cl := strategy.Client{IP: q.ip}
	if c, ok := lookupCountry(q.country); ok {
		cl.Country, cl.Continent, cl.Lat, cl.Lon, cl.HasLoc = q.country, c.Continent, c.Lat, c.Lon, true
	}
	m, err := p.Strategy.Pick(ctx, p, cl)
	if err != nil {
		return // no usable mirror: the fallback
	}
	measure := t >= r.measureAt
	if measure {
		r.res.Requests++
		if q.aborted {
			r.res.Aborted++
		}
	}
	l := r.links[m.Index]
	wasSat := l.saturated()
	l.start(t, q.size, q.class, q.aborted, measure)
	r.nexts[m.Index] = l.next
	r.saturation(t, wasSat, l.saturated())
	r.active++
	r.res.PeakActive = max(r.res.PeakActive, r.active)
}

// completed ends the download due on l at t.
func (r *run) completed(t float64, l *link) {
	wasSat := l.saturated()
	d := l.complete(t)
	r.active--
	r.saturation(t, wasSat, l.saturated())
	if d.measure && !d.aborted {
		r.hist.add(t - float64(d.start))
	}
}

// saturation keeps the count of links at capacity, and the time any was.
func (r *run) saturation(t float64, was, is bool) {
	switch {
	case !was && is:
		if r.satCount == 0 {
			r.satSince = t
		}
		r.satCount++
	case was && !is:
		r.satCount--
		if r.satCount == 0 && t > r.measureAt {
			r.res.SaturatedS += t - max(r.satSince, r.measureAt)
		}
	}
}

// finish computes the figures of the measured window.
func (r *run) finish(end float64) {
	if r.satCount > 0 {
		r.res.SaturatedS += end - max(r.satSince, r.measureAt)
	}
	window := end - r.measureAt
	var sent, capacity, busiest float64
	for i, l := range r.links {
		l.advance(end)
		// The bytes of the measured window.
		b := l.sent - r.sentStart[i]
		u := b / (l.capacity * window)
		r.res.Utilization[r.cfg.Mirrors[i].Name] = round3(u)
		sent += b
		capacity += l.capacity * window
		busiest = max(busiest, u)
	}
	if sent > 0 {
		r.res.Balance = round3(busiest / (sent / capacity))
	}
	r.res.P50S, r.res.P95S = round3(r.hist.quantile(0.5)), round3(r.hist.quantile(0.95))
	r.res.SettleS, r.res.WeightStddev = r.settling(end)
	r.res.SaturatedS = math.Round(r.res.SaturatedS)
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
