// Package feedback watches the mirrors: HTTP health probes take dead ones
// out and bring them back, and an SNMP poller turns each mirror's bandwidth
// headroom into a weight factor. Both run on robfig/cron schedules in the
// background; the request path never waits on them. With Redis, one
// dispatcher holds a lease and does the work, and the others read its
// results.
package feedback

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/robfig/cron/v3"

	"github.com/dispatcher/dispatcher/config"
	"github.com/dispatcher/dispatcher/store"
)

// Key names a mirror of a pool.
type Key = store.MirrorKey

// State is what the monitor knows of one mirror.
type State struct {
	Probed     bool      `json:"probed"`
	Up         bool      `json:"up"`
	UpSince    time.Time `json:"up_since"`
	LastProbe  time.Time `json:"last_probe"`
	ProbeError string    `json:"probe_error"`

	Polled       bool      `json:"polled"`
	BandwidthBps float64   `json:"bandwidth_bps"`
	InBps        float64   `json:"in_bps"`
	CapacityBps  float64   `json:"capacity_bps"`
	Utilization  float64   `json:"utilization"`
	Headroom     float64   `json:"headroom"`
	LastPoll     time.Time `json:"last_poll"`
	PollError    string    `json:"poll_error"`
}

// Factor is the part of the effective weight that comes from feedback:
// 0 when down; while a mirror that came back ramps up, a share of the
// ramp time (at least a tenth); times the bandwidth headroom.
func (s State) Factor(now time.Time, ramp time.Duration) float64 {
	if s.Probed && !s.Up {
		return 0
	}
	f := 1.0
	if s.Polled {
		f = s.Headroom
	}
	if ramp > 0 && !s.UpSince.IsZero() {
		if e := now.Sub(s.UpSince); e < ramp {
			f *= max(0.1, float64(e)/float64(ramp))
		}
	}
	return f
}

// Options configure a Monitor.
type Options struct {
	Log *slog.Logger
	// Store shares the work between instances; nil polls for itself.
	Store *store.Store
	// OnChange is called, without locks held, after a run changed any state.
	OnChange func()
	// Probe checks one mirror; nil means HTTPProbe with the configured
	// method and timeout.
	Probe ProbeFunc
	Law   Law
}

// Monitor runs the health probes and SNMP polls of one configuration. It is
// safe for concurrent use.
type Monitor struct {
	log      *slog.Logger
	store    *store.Store
	onChange func()
	probe    ProbeFunc
	law      Law
	id       string

	mu      sync.Mutex
	cfg     *config.Config
	mirrors map[Key]*mirror
	agents  map[config.SNMP]*agent
	cron    *cron.Cron
	leader  bool
	decided bool // leader has been set once
	// base is the context of Start: the jobs' runs derive from it. It
	// outlives the request or signal that triggered a Configure.
	base context.Context

	runs sync.WaitGroup
	// One run of each job at a time, the first (started at once) included;
	// cron's SkipIfStillRunning only sees the scheduled ones.
	healthBusy, pollBusy sync.Mutex
}

// mirror is the monitor's record of one configured mirror.
type mirror struct {
	key Key
	url string
	// probe is health_url when set: probed as it is instead of the
	// mirror's host with health.path.
	probe  string
	snmp   *config.SNMP
	capBps float64
	health healthState
	poll   pollState
}

type pollState struct {
	prev      *Sample
	util      float64
	haveUtil  bool
	headroom  float64
	outBps    float64
	inBps     float64
	speedBps  float64
	lastGood  time.Time
	last      time.Time
	err       string
	ifIndex   int
	resolveIf bool
}

// New returns a Monitor; Configure gives it mirrors and Start runs it.
func New(o Options) *Monitor {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Law == (Law{}) {
		o.Law = DefaultLaw
	}
	if o.OnChange == nil {
		o.OnChange = func() {}
	}
	host, _ := os.Hostname()
	var b [4]byte
	crand.Read(b[:]) //nolint:errcheck // crypto/rand.Read does not fail
	return &Monitor{
		log:      o.Log.With("component", "feedback"),
		store:    o.Store,
		onChange: o.OnChange,
		probe:    o.Probe,
		law:      o.Law,
		id:       fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:])),
		mirrors:  map[Key]*mirror{},
		agents:   map[config.SNMP]*agent{},
	}
}

// State returns what is known of a mirror; ok is false for a mirror the
// monitor does not watch.
func (m *Monitor) State(k Key) (State, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mr, ok := m.mirrors[k]
	if !ok {
		return State{}, false
	}
	return mr.state(m.cfg), true
}

func (mr *mirror) state(cfg *config.Config) State {
	s := State{
		Probed:     cfg.Health != nil,
		Up:         mr.health.up,
		UpSince:    mr.health.upSince,
		LastProbe:  mr.health.last,
		ProbeError: mr.health.err,
		Headroom:   1,
	}
	if mr.snmp != nil && cfg.Feedback != nil {
		s.Polled = true
		s.BandwidthBps = mr.poll.outBps
		s.InBps = mr.poll.inBps
		s.CapacityBps = mr.capacity()
		s.Utilization = mr.poll.util
		s.Headroom = mr.poll.headroom
		s.LastPoll = mr.poll.last
		s.PollError = mr.poll.err
	}
	return s
}

// capacity is bandwidth_mbps, else the interface's line speed.
func (mr *mirror) capacity() float64 {
	if mr.capBps > 0 {
		return mr.capBps
	}
	return mr.poll.speedBps
}

// Configure (re)loads the mirrors and schedules of cfg. Mirrors that stay
// (same pool, name and URL, same SNMP settings) keep their history. It
// waits for running jobs of the old configuration to end.
func (m *Monitor) Configure(cfg *config.Config) error {
	var health, poll cron.Schedule
	var err error
	if cfg.Health != nil {
		if health, err = cron.ParseStandard(cfg.Health.Schedule); err != nil {
			return fmt.Errorf("health.schedule: %w", err)
		}
	}
	if cfg.Feedback != nil {
		if poll, err = cron.ParseStandard(cfg.Feedback.Schedule); err != nil {
			return fmt.Errorf("feedback.schedule: %w", err)
		}
	}
	m.stopCron()

	m.mu.Lock()
	old := m.mirrors
	m.mirrors = map[Key]*mirror{}
	used := map[config.SNMP]bool{}
	for _, p := range cfg.Pools {
		for i := range p.Mirrors {
			cm := &p.Mirrors[i]
			k := Key{Pool: p.Name, Mirror: cm.Name}
			mr := &mirror{key: k, url: cm.URL, probe: cm.HealthURL, snmp: cm.SNMP, capBps: cm.BandwidthMbps * 1e6,
				health: newHealthState(), poll: pollState{headroom: 1}}
			if prev, ok := old[k]; ok && prev.url == cm.URL && prev.probe == cm.HealthURL {
				mr.health = prev.health
				if sameSNMP(prev.snmp, cm.SNMP) {
					mr.poll = prev.poll
				}
			}
			if cm.SNMP != nil {
				used[agentKey(cm.SNMP)] = true
			}
			m.mirrors[k] = mr
		}
	}
	for k, a := range m.agents {
		if !used[k] {
			a.close()
			delete(m.agents, k)
		}
	}
	m.cfg = cfg
	base := m.base
	m.mu.Unlock()

	if base != nil {
		m.startCron(base, health, poll)
	}
	return nil
}

func sameSNMP(a, b *config.SNMP) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// agentKey identifies one agent session: the whole snmp block but the
// interface, so that mirrors differing only in credentials do not share a
// client (and its credentials).
func agentKey(s *config.SNMP) config.SNMP {
	k := *s
	k.Interface, k.IfIndex = "", 0
	return k
}

// Start runs a first probe and poll at once and then the cron schedules,
// until Stop. ctx bounds every run.
func (m *Monitor) Start(ctx context.Context) {
	m.mu.Lock()
	m.base = ctx
	cfg := m.cfg
	m.mu.Unlock()
	var health, poll cron.Schedule
	if cfg.Health != nil {
		health, _ = cron.ParseStandard(cfg.Health.Schedule) //nolint:errcheck // checked by Configure
	}
	if cfg.Feedback != nil {
		poll, _ = cron.ParseStandard(cfg.Feedback.Schedule) //nolint:errcheck // checked by Configure
	}
	m.startCron(ctx, health, poll)
}

// Stop stops the schedules and waits for running jobs.
func (m *Monitor) Stop() {
	m.stopCron()
	m.mu.Lock()
	for k, a := range m.agents {
		a.close()
		delete(m.agents, k)
	}
	m.mu.Unlock()
}

func (m *Monitor) startCron(ctx context.Context, health, poll cron.Schedule) {
	logger := cronLogger{m.log}
	c := cron.New(cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)), cron.WithLogger(logger))
	if health != nil {
		every := interval(health)
		job := func() { m.once(&m.healthBusy, func() { m.run(ctx, every, m.runHealth) }) }
		c.Schedule(health, cron.FuncJob(job))
		m.runs.Add(1)
		go func() { defer m.runs.Done(); job() }()
	}
	if poll != nil {
		every := interval(poll)
		job := func() { m.once(&m.pollBusy, func() { m.run(ctx, every, m.runPoll) }) }
		c.Schedule(poll, cron.FuncJob(job))
		m.runs.Add(1)
		go func() { defer m.runs.Done(); job() }()
	}
	m.mu.Lock()
	m.cron = c
	m.mu.Unlock()
	c.Start()
}

// once runs f unless a run guarded by busy is still going.
func (m *Monitor) once(busy *sync.Mutex, f func()) {
	if !busy.TryLock() {
		m.log.Debug("previous run still going; skipped")
		return
	}
	defer busy.Unlock()
	f()
}

func (m *Monitor) stopCron() {
	m.mu.Lock()
	c := m.cron
	m.cron = nil
	m.mu.Unlock()
	if c != nil {
		<-c.Stop().Done()
	}
	m.runs.Wait()
}

// interval is the time between two runs of a schedule.
func interval(s cron.Schedule) time.Duration {
	now := time.Now()
	next := s.Next(now)
	return max(s.Next(next).Sub(next), time.Second)
}

// leaseTTL is how long a lease holds without renewal: three runs of the
// slowest schedule, so that a missed run does not hand the work over.
func (m *Monitor) leaseTTL() time.Duration {
	var longest time.Duration
	if m.cfg.Health != nil {
		if s, err := cron.ParseStandard(m.cfg.Health.Schedule); err == nil {
			longest = max(longest, interval(s))
		}
	}
	if m.cfg.Feedback != nil {
		if s, err := cron.ParseStandard(m.cfg.Feedback.Schedule); err == nil {
			longest = max(longest, interval(s))
		}
	}
	return 3 * longest
}

// leaseScript takes the lease if it is free or renews it if we hold it.
var leaseScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`)

// lead reports whether this instance does the work now: always without
// Redis (or while Redis is unreachable), else while it holds the lease.
func (m *Monitor) lead(ctx context.Context) bool {
	leader := true
	if m.store != nil && m.store.Connected() {
		m.mu.Lock()
		ttl := m.leaseTTL()
		m.mu.Unlock()
		err := m.store.Do(ctx, time.Second, func(ctx context.Context, c redis.UniversalClient) error {
			n, err := leaseScript.Run(ctx, c, []string{m.store.Key("feedback:lease")}, m.id, ttl.Milliseconds()).Int()
			leader = n == 1
			return err
		})
		if err != nil {
			leader = true // Redis went away: poll for ourselves.
		}
	}
	m.mu.Lock()
	changed := leader != m.leader || !m.decided
	m.leader, m.decided = leader, true
	m.mu.Unlock()
	if changed {
		if leader {
			m.log.Info("this instance now probes and polls the mirrors", "instance", m.id)
		} else {
			m.log.Info("another instance holds the feedback lease; reading its results", "instance", m.id)
		}
	}
	return leader
}

// run is one run of a job, bounded by 80% of its interval. The lease
// holder (or every instance, without Redis) does the work, publishes the
// results and rebuilds the pools when anything changed; the others adopt
// the published results.
func (m *Monitor) run(root context.Context, every time.Duration, work func(ctx context.Context, every time.Duration) (changed bool)) {
	ctx, cancel := context.WithTimeout(root, every*8/10)
	defer cancel()
	if !m.lead(ctx) {
		m.follow(ctx, every)
		return
	}
	changed := work(ctx, every)
	if root.Err() != nil {
		return
	}
	m.publish(ctx)
	if m.ramping(time.Now(), every) || changed {
		m.onChange()
	}
}

// runHealth probes every mirror once, with jitter, and reports whether a
// mirror went up or down.
func (m *Monitor) runHealth(ctx context.Context, every time.Duration) bool {
	m.mu.Lock()
	cfg := m.cfg
	targets := make([]*mirror, 0, len(m.mirrors))
	for _, mr := range m.mirrors {
		targets = append(targets, mr)
	}
	m.mu.Unlock()
	if cfg.Health == nil {
		return false
	}
	h := cfg.Health
	probe := m.probe
	if probe == nil {
		probe = HTTPProbe(&http.Client{
			Timeout:       time.Duration(h.Timeout),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}, h.Method)
	}
	// Jitter spreads the probes over a fifth of the interval so that they
	// do not hit the mirrors (and our sockets) all at once.
	jitter := every / 5
	results := make([]error, len(targets))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i, mr := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if jitter > 0 {
				select {
				case <-time.After(rand.N(jitter)):
				case <-ctx.Done():
				}
			}
			sem <- struct{}{}
			defer func() { <-sem }()
			pctx, cancel := context.WithTimeout(ctx, time.Duration(h.Timeout))
			defer cancel()
			u := mr.probe
			if u == "" {
				u = probeURL(mr.url, h.Path)
			}
			results[i] = probe(pctx, u)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return false
	}
	now := time.Now()
	changed := false
	m.mu.Lock()
	for i, mr := range targets {
		msg := ""
		if results[i] != nil {
			msg = results[i].Error()
		}
		if mr.health.record(results[i] == nil, msg, h.Window, h.Threshold, now) {
			changed = true
			if mr.health.up {
				m.log.Info("mirror is up", "pool", mr.key.Pool, "mirror", mr.key.Mirror)
			} else {
				m.log.Warn("mirror is down", "pool", mr.key.Pool, "mirror", mr.key.Mirror, "err", msg)
			}
		}
	}
	m.mu.Unlock()
	return changed
}

// ramping reports whether a mirror is ramping up, or ended its ramp since
// the previous run: its weight then needs a rebuild. When the last ramp
// ends before the next run, it also schedules a rebuild for that moment,
// or the mirror would stay short of its full weight until then.
func (m *Monitor) ramping(now time.Time, every time.Duration) bool {
	m.mu.Lock()
	need := false
	var left time.Duration
	if h := m.cfg.Health; h != nil {
		for _, mr := range m.mirrors {
			if !mr.health.up || mr.health.upSince.IsZero() {
				continue
			}
			l := time.Duration(h.RampUp) - now.Sub(mr.health.upSince)
			need = need || l > -every
			left = max(left, l)
		}
	}
	m.mu.Unlock()
	if left > 0 && left < every {
		time.AfterFunc(left+10*time.Millisecond, m.onChange)
	}
	return need
}

// runPoll polls every mirror with an SNMP target, agents in parallel (at
// most 16 at once) and the mirrors of one agent in sequence, and reports
// whether a headroom changed.
func (m *Monitor) runPoll(ctx context.Context, _ time.Duration) bool {
	m.mu.Lock()
	cfg := m.cfg
	byAgent := map[config.SNMP][]*mirror{}
	for _, mr := range m.mirrors {
		if mr.snmp != nil {
			k := agentKey(mr.snmp)
			byAgent[k] = append(byAgent[k], mr)
		}
	}
	m.mu.Unlock()
	if cfg.Feedback == nil || len(byAgent) == 0 {
		return false
	}
	f := cfg.Feedback
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	var changed bool
	var cmu sync.Mutex
	for k, group := range byAgent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			a, err := m.agent(k, group[0].snmp, time.Duration(f.Timeout), f.Retries)
			for _, mr := range group {
				c := m.pollMirror(ctx, a, err, mr, time.Duration(f.StaleAfter))
				cmu.Lock()
				changed = changed || c
				cmu.Unlock()
			}
		}()
	}
	wg.Wait()
	return changed
}

func (m *Monitor) agent(k config.SNMP, cfg *config.SNMP, timeout time.Duration, retries int) (*agent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a, ok := m.agents[k]; ok {
		return a, nil
	}
	a, err := newAgent(*cfg, timeout, retries, m.log)
	if err != nil {
		return nil, err
	}
	m.agents[k] = a
	return a, nil
}

// pollMirror takes one sample of mirror mr and updates its state. It
// reports whether the headroom changed.
func (m *Monitor) pollMirror(ctx context.Context, a *agent, agentErr error, mr *mirror, stale time.Duration) bool {
	m.mu.Lock()
	ps := mr.poll
	m.mu.Unlock()
	now := time.Now()
	var s Sample
	err := agentErr
	if err == nil {
		var idx int
		idx, err = a.ifIndex(ctx, mr.snmp.Interface, mr.snmp.IfIndex, ps.resolveIf)
		if err == nil {
			ps.ifIndex = idx
			ps.resolveIf = false
			s, err = a.sample(ctx, idx)
		}
	}
	ps.last = now
	before := ps.headroom
	if err == nil {
		if s.SpeedBps > 0 {
			ps.speedBps = s.SpeedBps
		}
		if ps.prev != nil {
			out, in, rerr := Rate(*ps.prev, s)
			switch {
			case errors.Is(rerr, errTooSoon):
				// Two runs close together (the first run and the first
				// tick): keep the older sample for a longer interval.
				s = *ps.prev
			case rerr == nil:
				ps.outBps, ps.inBps = out, in
				if capBps := cmp0(mr.capBps, ps.speedBps); capBps > 0 {
					ps.util = m.law.Smooth(ps.util, ps.haveUtil, out/capBps)
					ps.haveUtil = true
					ps.headroom = m.law.Headroom(ps.headroom, ps.util)
					ps.err = ""
				} else {
					ps.err = "no capacity: set bandwidth_mbps or let the agent report ifHighSpeed"
				}
				ps.lastGood = now
			case errors.Is(rerr, errRestart):
				ps.resolveIf = true // interface indexes may have changed
				ps.err = rerr.Error()
			default:
				ps.err = rerr.Error()
			}
		} else {
			ps.err = ""
			ps.lastGood = now
		}
		ps.prev = &s
	} else {
		ps.err = err.Error()
	}
	if stale > 0 && !ps.lastGood.IsZero() && now.Sub(ps.lastGood) > stale || ps.lastGood.IsZero() && err != nil {
		// No good sample for a while: the configured weight returns.
		if ps.headroom != 1 || ps.haveUtil {
			m.log.Warn("no good SNMP sample; configured weight restored", "pool", mr.key.Pool, "mirror", mr.key.Mirror, "err", ps.err)
		}
		ps.headroom, ps.haveUtil, ps.util, ps.outBps, ps.inBps = 1, false, 0, 0, 0
		if ps.err != "" && !ps.lastGood.IsZero() {
			ps.err = fmt.Sprintf("no good sample since %s: %s", ps.lastGood.UTC().Format(time.RFC3339), ps.err)
		}
	}
	m.mu.Lock()
	mr.poll = ps
	m.mu.Unlock()
	return ps.headroom != before
}

func cmp0(a, b float64) float64 {
	if a > 0 {
		return a
	}
	return b
}

// published is what the lease holder writes to Redis for the others.
type published struct {
	By     string           `json:"by"`
	At     time.Time        `json:"at"`
	States map[string]State `json:"states"`
}

// publish writes every state to Redis for the instances that follow.
func (m *Monitor) publish(ctx context.Context) {
	if m.store == nil || !m.store.Connected() {
		return
	}
	m.mu.Lock()
	p := published{By: m.id, At: time.Now(), States: map[string]State{}}
	for k, mr := range m.mirrors {
		p.States[k.Pool+"/"+k.Mirror] = mr.state(m.cfg)
	}
	ttl := 2 * m.leaseTTL()
	m.mu.Unlock()
	data, err := json.Marshal(p)
	if err != nil {
		m.log.Error("cannot encode feedback state", "err", err)
		return
	}
	// Errors are recorded by the store; the next run publishes again.
	_ = m.store.Do(ctx, time.Second, func(ctx context.Context, c redis.UniversalClient) error { //nolint:errcheck
		return c.Set(ctx, m.store.Key("feedback:state"), data, ttl).Err()
	})
}

// follow adopts the states the lease holder published; every is the
// interval of the job that calls it.
func (m *Monitor) follow(ctx context.Context, every time.Duration) {
	var data []byte
	err := m.store.Do(ctx, time.Second, func(ctx context.Context, c redis.UniversalClient) error {
		var err error
		data, err = c.Get(ctx, m.store.Key("feedback:state")).Bytes()
		return err
	})
	if err != nil {
		return
	}
	var p published
	if err := json.Unmarshal(data, &p); err != nil {
		m.log.Warn("cannot decode the published feedback state", "err", err)
		return
	}
	changed := false
	m.mu.Lock()
	for k, mr := range m.mirrors {
		s, ok := p.States[k.Pool+"/"+k.Mirror]
		if !ok {
			continue
		}
		before := mr.state(m.cfg)
		mr.health.up, mr.health.upSince, mr.health.last, mr.health.err = s.Up, s.UpSince, s.LastProbe, s.ProbeError
		if s.Polled {
			mr.poll.outBps, mr.poll.inBps, mr.poll.util = s.BandwidthBps, s.InBps, s.Utilization
			mr.poll.headroom, mr.poll.last, mr.poll.err = s.Headroom, s.LastPoll, s.PollError
			if mr.capBps == 0 {
				mr.poll.speedBps = s.CapacityBps
			}
		}
		if after := mr.state(m.cfg); after.Up != before.Up || after.Headroom != before.Headroom || !after.UpSince.Equal(before.UpSince) {
			changed = true
		}
	}
	m.mu.Unlock()
	if m.ramping(time.Now(), every) || changed {
		m.onChange()
	}
}

// cronLogger adapts slog to cron.Logger.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}
