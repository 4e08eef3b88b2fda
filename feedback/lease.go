package feedback

import (
	"context"
	"encoding/json"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/robfig/cron/v3"
)

// leaseTTL is how long a lease holds without renewal: three runs of the
// slowest schedule that takes it (health, feedback, and the file scans of
// file-aware pools), so that a missed run does not hand the work over.
// Callers hold m.mu.
func (m *Monitor) leaseTTL() time.Duration {
	specs := []string{}
	if m.cfg.Health != nil {
		specs = append(specs, m.cfg.Health.Schedule)
	}
	if m.cfg.Feedback != nil {
		specs = append(specs, m.cfg.Feedback.Schedule)
	}
	for _, p := range m.cfg.Pools {
		if p.Files != nil {
			specs = append(specs, p.Files.Schedule)
		}
	}
	longest := time.Second
	for _, spec := range specs {
		if s, err := cron.ParseStandard(spec); err == nil {
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

// Lead reports whether this instance does the shared work now (probes,
// polls, file scans), taking or renewing the lease: always without Redis
// (or while Redis is unreachable), else while it holds the lease.
func (m *Monitor) Lead(ctx context.Context) bool {
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

// published is what the lease holder writes to Redis for the others.
type published struct {
	By     string                 `json:"by"`
	At     time.Time              `json:"at"`
	States map[string]MirrorState `json:"states"`
}

// publish writes every state to Redis for the instances that follow.
func (m *Monitor) publish(ctx context.Context) {
	if m.store == nil || !m.store.Connected() {
		return
	}
	m.mu.Lock()
	p := published{By: m.id, At: time.Now(), States: map[string]MirrorState{}}
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

// follow adopts the states the lease holder published and reports whether
// any mirror went up or down, changed headroom or started a ramp.
func (m *Monitor) follow(ctx context.Context) bool {
	var data []byte
	err := m.store.Do(ctx, time.Second, func(ctx context.Context, c redis.UniversalClient) error {
		var err error
		data, err = c.Get(ctx, m.store.Key("feedback:state")).Bytes()
		return err
	})
	if err != nil || ctx.Err() != nil {
		return false
	}
	var p published
	if err := json.Unmarshal(data, &p); err != nil {
		m.log.Warn("cannot decode the published feedback state", "err", err)
		return false
	}
	changed := false
	m.mu.Lock()
	defer m.mu.Unlock()
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
	return changed
}
