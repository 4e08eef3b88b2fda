// Package deadline bounds how long a client may take to read a response
// or send a request body, at a fraction of the cost of http.Server's
// ReadTimeout and WriteTimeout.
//
// Those two set a connection deadline on every request, which costs a
// redirect about as much CPU as picking its mirror. A redirect reads no
// body, and its response fits in the socket's buffer; what must be
// bounded is a client that stops reading (its responses fill the buffer
// and the write blocks) and one that sends a body slowly. So Guard keeps
// a rolling write deadline per connection, moved forward only when less
// than half of it is left (once per Write/2 on a busy connection, not
// once per request), and gives a request that has a body its own read
// deadline. http.Server's ReadHeaderTimeout and IdleTimeout stay as they
// are: they bound a request's headers and an idle connection.
package deadline

import (
	"context"
	"net"
	"net/http"
	"time"
)

// Guard wraps a handler with the deadlines. Set its ConnContext as the
// http.Server's.
type Guard struct {
	// Write is the least time a response has to be written: a write
	// deadline between Write and 2×Write away is kept on each connection.
	Write time.Duration
	// Body is the time a request with a body has to send it.
	Body time.Duration
	// Next serves the requests.
	Next http.Handler
}

// conn is one connection's state. HTTP/1.x serves one request at a time
// on a connection, so it needs no lock.
type conn struct {
	c       net.Conn
	refresh time.Time // when the write deadline must be moved forward
}

type connKey struct{}

// ConnContext records the connection in its context, for ServeHTTP.
func (g *Guard) ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &conn{c: c})
}

// ServeHTTP implements http.Handler.
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if cs, ok := r.Context().Value(connKey{}).(*conn); ok {
		now := time.Now()
		if !now.Before(cs.refresh) {
			cs.c.SetWriteDeadline(now.Add(2 * g.Write)) //nolint:errcheck // a closed connection fails its write anyway
			cs.refresh = now.Add(g.Write)
		}
		if r.ContentLength != 0 && r.Body != http.NoBody {
			// A body must arrive within Body; the server clears the read
			// deadline before it reads the next request.
			cs.c.SetReadDeadline(now.Add(g.Body)) //nolint:errcheck // as above
		}
	}
	g.Next.ServeHTTP(w, r)
}
