// Package jsonlog writes the dispatcher's log: JSON lines, the same as
// log/slog's JSONHandler writes, through a buffer that never blocks the
// caller (Writer). The access log goes through it once per redirect, so
// both are built for that path.
package jsonlog

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// maxPending bounds the log bytes waiting for the output; past kickAt
// the writer is woken before its interval is up, so that a burst (the
// access log at 70,000 redirects a second writes 1.3 MB in 100 ms) is
// written out rather than dropped while the output keeps up.
const (
	maxPending = 1 << 20
	kickAt     = maxPending / 4
)

// Writer decouples the log from its output, so that logging never
// blocks a request: Write appends the line to a bounded buffer and
// returns, and one goroutine writes the buffer out every interval (as
// nginx's access_log buffer= does), at once when kicked (an error line,
// a flush, a buffer a quarter full). When the output does not keep up (a
// pipe nobody reads, a stuck journald, Docker's blocking log driver),
// lines that do not fit are dropped and counted; once the output takes
// lines again, OnRecover is told how many were lost. It is safe for concurrent use; each Write must
// be one whole line.
type Writer struct {
	out      io.Writer
	interval time.Duration
	// OnRecover is called, from the writer goroutine, after a write that
	// follows dropped lines. Set it before the first Write.
	OnRecover func(dropped uint64)

	mu         sync.Mutex
	pending    []byte
	kicked     bool // the writer was kicked for the pending bytes
	spare      []byte
	unreported uint64 // dropped since the last OnRecover
	dropped    atomic.Uint64

	kick    chan struct{}
	flushes chan chan struct{}
	done    chan struct{}
	ended   chan struct{}
	closing sync.Once
}

func NewWriter(out io.Writer, interval time.Duration) *Writer {
	w := &Writer{
		out:      out,
		interval: interval,
		kick:     make(chan struct{}, 1),
		flushes:  make(chan chan struct{}),
		done:     make(chan struct{}),
		ended:    make(chan struct{}),
	}
	go w.loop()
	return w
}

// Write queues p, one log line, or drops it when maxPending bytes already
// wait. It never blocks on the output and never fails.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if len(w.pending)+len(p) > maxPending {
		w.unreported++
		w.mu.Unlock()
		w.dropped.Add(1)
		return len(p), nil
	}
	w.pending = append(w.pending, p...)
	kick := len(w.pending) >= kickAt && !w.kicked
	w.kicked = w.kicked || kick
	w.mu.Unlock()
	if kick {
		w.Kick()
	}
	return len(p), nil
}

// Dropped returns the number of lines dropped since the start.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Kick asks for the pending lines to be written now, without waiting.
func (w *Writer) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Flush writes out what is pending and waits until it is written, or
// until timeout when the output is blocked. It reports whether it was.
func (w *Writer) Flush(timeout time.Duration) bool {
	done := make(chan struct{})
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case w.flushes <- done:
	case <-w.ended:
		return false
	case <-t.C:
		return false
	}
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// Close writes out what is pending, waiting at most timeout for a blocked
// output, and stops the writer goroutine (or leaves it blocked in the
// output, which the process's exit ends).
func (w *Writer) Close(timeout time.Duration) {
	w.closing.Do(func() { close(w.done) })
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-w.ended:
	case <-t.C:
	}
}

func (w *Writer) loop() {
	defer close(w.ended)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		var flushed chan struct{}
		stop := false
		select {
		case <-t.C:
		case <-w.kick:
		case flushed = <-w.flushes:
		case <-w.done:
			stop = true
		}
		w.writeOut()
		if flushed != nil {
			close(flushed)
		}
		if stop {
			w.writeOut() // what OnRecover added
			return
		}
	}
}

// writeOut moves the pending lines to the output; it may block there.
func (w *Writer) writeOut() {
	w.mu.Lock()
	buf := w.pending
	w.pending, w.kicked = w.spare[:0], false
	w.mu.Unlock()
	if len(buf) > 0 {
		w.out.Write(buf) //nolint:errcheck // nowhere left to report a failing log output
	}
	// The lines lost while the output was blocked, this write included:
	// one report for the whole stall.
	w.mu.Lock()
	w.spare = buf[:0]
	lost := w.unreported
	w.unreported = 0
	w.mu.Unlock()
	if lost > 0 && w.OnRecover != nil {
		w.OnRecover(lost)
	}
}

// NewLogger returns a logger writing JSON lines at level (nil: Info) to w,
// error lines at once.
func NewLogger(w *Writer, level slog.Leveler) *slog.Logger {
	return slog.New(urgentHandler{NewHandler(w, level), w})
}

// urgentHandler writes error lines at once: it kicks the writer after
// every record at Error level or above, so that the lines explaining a
// failure (a handler panic) are not left in the buffer.
type urgentHandler struct {
	slog.Handler
	w *Writer
}

func (h urgentHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelError {
		h.w.Kick()
	}
	return err
}

func (h urgentHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return urgentHandler{h.Handler.WithAttrs(as), h.w}
}

func (h urgentHandler) WithGroup(g string) slog.Handler {
	return urgentHandler{h.Handler.WithGroup(g), h.w}
}
