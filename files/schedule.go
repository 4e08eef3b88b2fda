package files

import (
	"context"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dispatcher/dispatcher/internal/cronlog"
	"github.com/dispatcher/dispatcher/internal/wait"
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
	if s.share != nil {
		go s.followLoop(ctx)
	}
	return func() { cancel(); c.Stop() }, nil
}

// followEvery is how often an instance that does not scan looks for the
// leader's results (one small Redis read when nothing changed), whatever
// the schedule: a follower started just before the leader published, or
// a leader that scans on a long schedule, is followed within seconds.
const followEvery = 2 * time.Second

// followLoop adopts the leader's results every followEvery while another
// instance scans, and while this one leads, publishes its results again
// when the shared copy is lost, until ctx ends.
func (s *Scanner) followLoop(ctx context.Context) {
	wait.Every(ctx, followEvery, func() {
		if !s.scanning.TryLock() {
			return
		}
		defer s.scanning.Unlock()
		if s.following.Load() {
			s.follow(ctx)
		} else {
			s.republishIfLost(ctx)
		}
	})
}
