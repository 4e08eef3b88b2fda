package feedback

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dispatcher/dispatcher/config"
)

// pollState is what the poller keeps of one mirror between samples.
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
		a.mu.Lock()
		var idx int
		idx, err = a.ifIndex(ctx, mr.snmp.Interface, mr.snmp.IfIndex, ps.resolveIf)
		if err == nil {
			ps.ifIndex = idx
			ps.resolveIf = false
			s, err = a.sample(ctx, idx)
		}
		a.mu.Unlock()
	}
	m.observe("poll", time.Since(now), err != nil)
	before := ps.headroom
	ps, restored := m.law.pollStep(ps, s, err, now, mr.capBps, stale)
	if restored {
		m.log.Warn("no good SNMP sample; configured weight restored", "pool", mr.key.Pool, "mirror", mr.key.Mirror, "err", ps.err)
	}
	m.mu.Lock()
	mr.poll = ps
	m.mu.Unlock()
	return ps.headroom != before
}

// pollStep is the poller's rule for one mirror, pure: from what was kept
// of it (ps) and the outcome of one poll at now (the sample s, or err), it
// returns what to keep next. capBps is the configured capacity (0: the
// interface's line speed), stale is stale_after (0: never).
//
//   - The first good sample only starts the series; each next one gives
//     the rates, the smoothed utilisation and the headroom (Law).
//   - A sample too close to the previous one is dropped and the older kept,
//     so that the next rate spans a longer interval.
//   - An agent restart (sysUpTime went back) or a counter that went
//     backwards discards the sample and keeps the weight; a restart also
//     asks for the interface index to be looked up again.
//   - With no good sample for longer than stale, or none at all and an
//     error, the configured weight returns (headroom 1); restored reports
//     that it did so from a measured state, for the log.
func (l Law) pollStep(ps pollState, s Sample, err error, now time.Time, capBps float64, stale time.Duration) (next pollState, restored bool) {
	ps.last = now
	if err == nil {
		if s.SpeedBps > 0 {
			ps.speedBps = s.SpeedBps
		}
		if ps.prev != nil {
			out, in, rerr := Rate(*ps.prev, s)
			switch {
			case errors.Is(rerr, errTooSoon):
				s = *ps.prev
			case rerr == nil:
				ps.outBps, ps.inBps = out, in
				if c := cmp0(capBps, ps.speedBps); c > 0 {
					ps.util = l.Smooth(ps.util, ps.haveUtil, out/c)
					ps.haveUtil = true
					ps.headroom = l.Headroom(ps.headroom, ps.util)
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
		restored = ps.headroom != 1 || ps.haveUtil
		ps.headroom, ps.haveUtil, ps.util, ps.outBps, ps.inBps = 1, false, 0, 0, 0
		if ps.err != "" && !ps.lastGood.IsZero() {
			ps.err = fmt.Sprintf("no good sample since %s: %s", ps.lastGood.UTC().Format(time.RFC3339), ps.err)
		}
	}
	return ps, restored
}

func cmp0(a, b float64) float64 {
	if a > 0 {
		return a
	}
	return b
}
