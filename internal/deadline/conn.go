package deadline

import (
	"errors"
	"net"
	"sync/atomic"
	"time"
)

// Conn is a connection accepted by a Listener.
type Conn struct {
	net.Conn
	l *Listener

	readBy   atomic.Int64 // the read deadline set, Unix nanoseconds; 0: none
	onWire   atomic.Bool  // a read deadline may be set on the socket
	writeAt  atomic.Int64 // when the Write under way began, on the sweeper's clock; 0: none
	cut      atomic.Bool  // a stalled Write was failed: writes fail from now on
	writeSet atomic.Bool  // a write deadline may be set on the socket
	closed   atomic.Bool
}

// pastDeadline is set on a socket to fail its reads or writes at once.
var pastDeadline = time.Unix(1, 0)

// SetReadDeadline records t. A t already passed reaches the socket at
// once, to wake a Read under way; a later one is expired by the sweeper.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		c.readBy.Store(0)
	} else {
		n := t.UnixNano()
		c.readBy.Store(n)
		if n <= c.l.now.Load() {
			c.onWire.Store(true)
			return c.Conn.SetReadDeadline(t)
		}
	}
	if c.onWire.Load() && c.onWire.Swap(false) {
		return c.Conn.SetReadDeadline(time.Time{})
	}
	return nil
}

// SetWriteDeadline sets t on the socket, except that clearing a deadline
// that was never set (what net/http does after every request) costs
// nothing. The Listener's stall bound applies whatever is set here, and
// once a stalled Write has been failed no deadline set here lifts it.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if c.cut.Load() || t.IsZero() && !c.writeSet.Load() {
		return nil
	}
	c.writeSet.Store(!t.IsZero())
	return c.Conn.SetWriteDeadline(t)
}

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

// Read reads from the socket. A timeout from a deadline that has since
// been moved or cleared (the sweeper and a new deadline crossed) is not
// the caller's: the socket's deadline is cleared and the read goes on.
func (c *Conn) Read(p []byte) (int, error) {
	for {
		n, err := c.Conn.Read(p)
		if n > 0 || err == nil {
			return n, err
		}
		// The sweeper's clock is behind the real one: a deadline it has
		// passed has passed. The error is the caller's whatever it is;
		// this is looked at first because it is how every request's
		// background read ends (net/http aborts it with a deadline long
		// ago), and is cheaper than asking the error.
		by := c.readBy.Load()
		if by != 0 && by <= c.l.now.Load() {
			return n, err
		}
		if !isTimeout(err) || by != 0 && by <= time.Now().UnixNano() {
			return n, err
		}
		c.onWire.Store(false)
		if err := c.Conn.SetReadDeadline(time.Time{}); err != nil {
			return 0, err
		}
	}
}

// Write writes p; the sweeper fails it if it has not returned within the
// Listener's stall bound.
func (c *Conn) Write(p []byte) (int, error) {
	if c.l.stall <= 0 {
		return c.Conn.Write(p)
	}
	c.writeAt.Store(c.l.now.Load())
	n, err := c.Conn.Write(p)
	c.writeAt.Store(0)
	return n, err
}

// CloseWrite shuts down the writing side of a TCP connection, which
// net/http does before closing a connection whose request it did not
// read to the end.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Close closes the connection and forgets it.
func (c *Conn) Close() error {
	if !c.closed.Swap(true) {
		c.l.forget(c)
	}
	return c.Conn.Close()
}

// readDue reports whether the read deadline has passed at now and is not
// yet on the socket.
func (c *Conn) readDue(now int64) bool {
	by := c.readBy.Load()
	return by != 0 && by <= now && !c.onWire.Load()
}

// writeDue reports whether the Write under way has run past the stall
// bound at now. Its start is on the sweeper's clock, up to a tick behind
// the real one: a tick more is waited, so that no Write is cut early.
func (c *Conn) writeDue(now int64) bool {
	at := c.writeAt.Load()
	return c.l.stall > 0 && at != 0 && now-at >= int64(c.l.stall+c.l.tick) && !c.cut.Load()
}

// expire puts on the socket what is due at now: a passed read deadline
// wakes the Read under way; a stalled Write fails, and so does every
// later one (what is left of the response would be cut anyway).
func (c *Conn) expire(now int64) {
	if c.readDue(now) {
		c.onWire.Store(true)
		c.Conn.SetReadDeadline(pastDeadline) //nolint:errcheck // a closed socket has nothing to wake
	}
	if c.writeDue(now) {
		c.cut.Store(true)
		c.writeSet.Store(true)
		c.Conn.SetWriteDeadline(pastDeadline) //nolint:errcheck // as above
	}
}

// isTimeout reports whether err, as a socket returns it, is a deadline's.
// (errors.As would cost every request a tenth of its CPU: net/http's
// background read ends in a timeout each time.)
func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
