// Package cronlog adapts log/slog to robfig/cron's Logger: cron's routine
// messages at Debug, its errors (a recovered panic) at Error.
package cronlog

import (
	"log/slog"

	"github.com/robfig/cron/v3"
)

// New returns a cron.Logger writing to log.
func New(log *slog.Logger) cron.Logger { return logger{log} }

type logger struct{ log *slog.Logger }

func (l logger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }

func (l logger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}
