package files

import (
	"context"

	"github.com/robfig/cron/v3"

	"github.com/dispatcher/dispatcher/internal/cronlog"
)

// Run scans at once and then on spec (robfig/cron), until the returned
// stop is called or ctx ends. Scans never overlap; stop cancels a running
// one and does not wait for it.
func (s *Scanner) Run(ctx context.Context, spec string) (stop func(), err error) {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, err
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
