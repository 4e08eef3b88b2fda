package feedback

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dispatcher/dispatcher/internal/cronlog"
)

// schedules runs the jobs of one configuration: a cron with the health and
// poll schedules, plus a first run of each at once. stop cancels every run
// it started; the runs end on their own, into records nobody reads.
type schedules struct {
	base   context.Context // Start's context, handed to the next schedules
	ctx    context.Context // ends when these schedules are replaced or stopped
	cancel context.CancelFunc
	cron   *cron.Cron

	// One run of each job at a time, the first (started at once) included;
	// cron's SkipIfStillRunning only sees the scheduled ones.
	healthBusy, pollBusy sync.Mutex

	timerMu sync.Mutex
	ramp    *time.Timer // the rebuild at the end of a ramp (nil: none)
}

// startSchedules starts the jobs of the current configuration. Callers
// hold m.cfgMu.
func (m *Monitor) startSchedules(base context.Context) *schedules {
	ctx, cancel := context.WithCancel(base)
	logger := cronlog.New(m.log)
	s := &schedules{base: base, ctx: ctx, cancel: cancel,
		cron: cron.New(cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)), cron.WithLogger(logger))}
	jobs := []struct {
		spec cron.Schedule
		busy *sync.Mutex
		work func(ctx context.Context, every time.Duration) bool
	}{
		{m.healthSpec, &s.healthBusy, m.runHealth},
		{m.pollSpec, &s.pollBusy, m.runPoll},
	}
	for _, j := range jobs {
		if j.spec == nil {
			continue
		}
		every := interval(j.spec)
		job := func() {
			if !m.track() {
				return
			}
			defer m.runs.Done()
			skipIfBusy(j.busy, m.log, func() { m.run(s, every, j.work) })
		}
		s.cron.Schedule(j.spec, cron.FuncJob(job))
		go job()
	}
	s.cron.Start()
	return s
}

// stop cancels the runs and the ramp timer and stops the cron without
// waiting for a run to end.
func (s *schedules) stop() {
	s.cancel()
	s.cron.Stop()
	s.timerMu.Lock()
	if s.ramp != nil {
		s.ramp.Stop()
	}
	s.timerMu.Unlock()
}

// skipIfBusy runs f unless a run guarded by busy is still going.
func skipIfBusy(busy *sync.Mutex, log *slog.Logger, f func()) {
	if !busy.TryLock() {
		log.Debug("previous run still going; skipped")
		return
	}
	defer busy.Unlock()
	f()
}

// run is one run of a job, bounded by 80% of its interval. The lease
// holder (or every instance, without Redis) does the work, publishes the
// results and rebuilds the pools when anything changed; the others adopt
// the published results. A run whose schedules were replaced meanwhile
// (a reload) publishes nothing and rebuilds nothing.
func (m *Monitor) run(s *schedules, every time.Duration, work func(ctx context.Context, every time.Duration) (changed bool)) {
	ctx, cancel := context.WithTimeout(s.ctx, every*8/10)
	defer cancel()
	if !m.Lead(ctx) {
		if m.follow(ctx) || m.ramping(s, time.Now(), every) {
			m.onChange()
		}
		return
	}
	changed := work(ctx, every)
	if s.ctx.Err() != nil {
		return
	}
	m.publish(ctx)
	if m.ramping(s, time.Now(), every) || changed {
		m.onChange()
	}
}

// ramping reports whether a mirror is ramping up, or ended its ramp since
// the previous run: its weight then needs a rebuild. When the last ramp
// ends before the next run, it also schedules a rebuild for that moment,
// or the mirror would stay short of its full weight until then; the
// timer ends with s.
func (m *Monitor) ramping(s *schedules, now time.Time, every time.Duration) bool {
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
		s.timerMu.Lock()
		if s.ramp != nil {
			s.ramp.Stop()
		}
		if s.ctx.Err() == nil {
			s.ramp = time.AfterFunc(left+10*time.Millisecond, func() {
				if !m.track() {
					return
				}
				defer m.runs.Done()
				if s.ctx.Err() == nil {
					m.onChange()
				}
			})
		}
		s.timerMu.Unlock()
	}
	return need
}

// interval is the time between two runs of a schedule.
func interval(s cron.Schedule) time.Duration {
	now := time.Now()
	next := s.Next(now)
	return max(s.Next(next).Sub(next), time.Second)
}
