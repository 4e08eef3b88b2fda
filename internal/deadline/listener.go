// Package deadline enforces connections' deadlines from one sweeper per
// listener rather than a runtime timer per deadline, and bounds a write
// that makes no progress.
//
// http.Server sets a read deadline three times a request when
// ReadHeaderTimeout and IdleTimeout are set (and ReadTimeout and
// WriteTimeout add more), each one a timer added, moved or removed in the
// runtime: together they cost a redirect about as much CPU as picking its
// mirror. Through a Listener those calls only record the deadline. A
// sweeper looks at every connection once a tick and expires the reads
// whose deadline has passed, so a deadline fires within a tick after it
// passes, never before. A deadline already passed when it is set (how
// net/http wakes its background read) reaches the socket at once.
//
// A stall bound limits each Write: one that has not returned that long
// after it began is failed (up to two ticks later, never sooner). http.Server's WriteTimeout bounds a whole response instead,
// and net/http clears a connection's write deadline after every request,
// so a deadline a handler set lasts one request; a Listener's bound holds
// on every request of a connection.
package deadline

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTick is how often a Listener looks at its connections when
// Listen is given no tick.
const DefaultTick = 250 * time.Millisecond

// Listener wraps a net.Listener; the connections it accepts keep their
// deadlines as described in the package documentation.
type Listener struct {
	net.Listener
	stall time.Duration
	tick  time.Duration

	now atomic.Int64 // the sweeper's clock, Unix nanoseconds

	mu    sync.Mutex
	conns map[*Conn]struct{}

	closed atomic.Bool // no more Accept: the sweeper ends with the last connection
}

// Listen wraps ln. stall bounds every Write of its connections (0: no
// bound); tick is how often deadlines are looked at (0: DefaultTick).
func Listen(ln net.Listener, stall, tick time.Duration) *Listener {
	if tick <= 0 {
		tick = DefaultTick
	}
	l := &Listener{Listener: ln, stall: stall, tick: tick, conns: map[*Conn]struct{}{}}
	l.now.Store(time.Now().UnixNano())
	go l.sweep()
	return l
}

// Accept accepts the next connection and wraps it.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	dc := &Conn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[dc] = struct{}{}
	l.mu.Unlock()
	return dc, nil
}

// Close closes the listener. The connections already accepted keep their
// deadlines (a graceful shutdown waits on them): the sweeper ends once
// the last of them is closed.
func (l *Listener) Close() error {
	l.closed.Store(true)
	return l.Listener.Close()
}

// forget drops a closed connection.
func (l *Listener) forget(c *Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// sweep expires deadlines once a tick, until the listener is closed and
// its last connection too.
func (l *Listener) sweep() {
	t := time.NewTicker(l.tick)
	defer t.Stop()
	var due []*Conn
	for now := range t.C {
		n := now.UnixNano()
		l.now.Store(n)
		var open bool
		due, open = l.due(n, due[:0])
		for _, c := range due {
			c.expire(n)
		}
		clear(due)
		if !open && l.closed.Load() {
			return
		}
	}
}

// due appends the connections with a deadline passed at now to buf, and
// reports whether any connection is open. The sockets are touched
// outside the lock, so Accept and Close do not wait on them.
func (l *Listener) due(now int64, buf []*Conn) ([]*Conn, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		if c.readDue(now) || c.writeDue(now) {
			buf = append(buf, c)
		}
	}
	return buf, len(l.conns) > 0
}
