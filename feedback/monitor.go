// Package feedback watches the mirrors: HTTP health probes take dead ones
// out and bring them back, and an SNMP poller turns each mirror's bandwidth
// headroom into a weight factor. Both run on robfig/cron schedules in the
// background; the request path never waits on them. With Redis, one
// dispatcher holds a lease and does the work, and the others read its
// results.
//
// The files follow the jobs: monitor.go (the mirrors and their
// configuration), schedule.go (cron, one run at a time, the ramp timer),
// health.go (probe runs), poll.go (SNMP poll runs), lease.go (the Redis
// lease, publishing and following).
package feedback

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dispatcher/dispatcher/config"
	"github.com/dispatcher/dispatcher/store"
)

// MirrorState is what the monitor knows of one mirror.
type MirrorState struct {
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
	// Observe, when not nil, is told the duration of every health probe
	// and SNMP poll (kind "probe" or "poll") and whether it failed. It is
	// called from the runs, concurrently.
	Observe func(kind string, d time.Duration, failed bool)
}

// Monitor runs the health probes and SNMP polls of one configuration. It is
// safe for concurrent use.
//
// Lock order: cfgMu, then mu. Configure, Start and Stop hold cfgMu and
// never wait for a run: the runs of a replaced configuration are cancelled
// and finish into mirror records nobody reads. Only Stop waits for runs.
type Monitor struct {
	log      *slog.Logger
	store    *store.Store
	onChange func()
	probe    ProbeFunc
	law      Law
	observe  func(kind string, d time.Duration, failed bool)
	id       string

	// cfgMu serialises Configure, Start and Stop.
	cfgMu sync.Mutex
	// sched runs the jobs of the current configuration (nil before Start
	// and after Stop). Guarded by cfgMu.
	sched *schedules
	// healthSpec and pollSpec are the parsed schedules of cfg. Guarded by
	// cfgMu.
	healthSpec, pollSpec cron.Schedule

	mu      sync.Mutex
	cfg     *config.Config
	mirrors map[store.MirrorKey]*mirror
	agents  map[config.SNMP]*agent
	leader  bool
	decided bool // leader has been set once
	stopped bool // Stop was called: no run may start

	// runs counts running jobs and timers; Add only under mu while not
	// stopped, Wait only in Stop.
	runs sync.WaitGroup
}

// mirror is the monitor's record of one configured mirror.
type mirror struct {
	key store.MirrorKey
	url string
	// probe is health_url when set: probed as it is instead of the
	// mirror's host with health.path.
	probe  string
	snmp   *config.SNMP
	capBps float64
	health healthState
	poll   pollState
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
	if o.Observe == nil {
		o.Observe = func(string, time.Duration, bool) {}
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
		observe:  o.Observe,
		id:       fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:])),
		mirrors:  map[store.MirrorKey]*mirror{},
		agents:   map[config.SNMP]*agent{},
	}
}

// State returns what is known of a mirror; ok is false for a mirror the
// monitor does not watch.
func (m *Monitor) State(k store.MirrorKey) (MirrorState, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mr, ok := m.mirrors[k]
	if !ok {
		return MirrorState{}, false
	}
	return mr.state(m.cfg), true
}

func (mr *mirror) state(cfg *config.Config) MirrorState {
	s := MirrorState{
		Probed:     cfg.Health != nil,
		Up:         mr.health.up,
		UpSince:    mr.health.upSince,
		LastProbe:  mr.health.last,
		ProbeError: mr.health.err,
		Headroom:   1,
	}
	if mr.snmp != nil && cfg.Feedback != nil {
		mr.poll.fill(&s, mr.capBps)
	}
	return s
}

// fill sets the polled fields of s from ps; capBps is bandwidth_mbps (0:
// the interface's line speed).
func (ps *pollState) fill(s *MirrorState, capBps float64) {
	s.Polled = true
	s.BandwidthBps = ps.outBps
	s.InBps = ps.inBps
	s.CapacityBps = capBps
	if capBps <= 0 {
		s.CapacityBps = ps.speedBps
	}
	s.Utilization = ps.util
	s.Headroom = ps.headroom
	s.LastPoll = ps.last
	s.PollError = ps.err
}

// Configure (re)loads the mirrors and schedules of cfg. Mirrors that stay
// (same pool, name and URL, same SNMP settings) keep their history. Runs of
// the previous configuration are cancelled, not waited for: Configure
// returns at once.
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
	m.cfgMu.Lock()
	defer m.cfgMu.Unlock()
	m.healthSpec, m.pollSpec = health, poll

	m.mu.Lock()
	old := m.mirrors
	m.mirrors = map[store.MirrorKey]*mirror{}
	used := map[config.SNMP]bool{}
	for _, p := range cfg.Pools {
		for i := range p.Mirrors {
			cm := &p.Mirrors[i]
			k := store.MirrorKey{Pool: p.Name, Mirror: cm.Name}
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
	m.mu.Unlock()

	if m.sched != nil {
		base := m.sched.base
		m.sched.stop()
		m.sched = m.startSchedules(base)
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
	m.cfgMu.Lock()
	defer m.cfgMu.Unlock()
	if m.sched != nil || m.isStopped() {
		return
	}
	m.sched = m.startSchedules(ctx)
}

// Stop stops the schedules, cancels running jobs and waits for them.
func (m *Monitor) Stop() {
	m.cfgMu.Lock()
	if m.sched != nil {
		m.sched.stop()
		m.sched = nil
	}
	m.mu.Lock()
	m.stopped = true
	m.mu.Unlock()
	m.cfgMu.Unlock()
	m.runs.Wait()
	m.mu.Lock()
	for k, a := range m.agents {
		a.close()
		delete(m.agents, k)
	}
	m.mu.Unlock()
}

func (m *Monitor) isStopped() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopped
}

// track counts a run or timer that is starting, unless the monitor has
// stopped; the caller calls m.runs.Done when it reports true.
func (m *Monitor) track() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return false
	}
	m.runs.Add(1)
	return true
}

// Law returns the law the monitor turns utilisation into headroom with.
func (m *Monitor) Law() Law { return m.law }
