package files

import (
	"context"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dispatcher/dispatcher/internal/cronlog"
)

// Run scans at once and then on spec (robfig/cron), until the returned
// stop is called or ctx ends. Unless the Scanner has a Spread, the mirror
// listings of a scan are spread over half the schedule's period, so that
// a scan ends before the next is due. Scans never overlap; stop cancels a
// running one and does not wait for it.
func (s *Scanner) Run(ctx context.Context, spec string) (stop func(), err error) {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	if s.spread == 0 {
		next := sched.Next(time.Now())
		s.spread = sched.Next(next).Sub(next) / 2
	}
	ctx, cancel := context.WithCancel(ctx)
	logger := cronlog.New(s.log)
	c := cron.New(cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)), cron.WithLogger(logger))
	job := cron.FuncJob(func() { s.Scan(ctx) })
	c.Schedule(sched, job)
	c.Start()
	go job()
	return func() { cancel(); c.Stop() }, nil
}
