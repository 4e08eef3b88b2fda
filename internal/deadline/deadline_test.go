package deadline

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// serve starts an http.Server with g (or, when guard is false, g.Next
// alone) on a loopback port, and counts the connections it has closed.
func serve(t *testing.T, g *Guard, guard bool) (addr string, closed *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed = new(atomic.Int32)
	hs := &http.Server{Handler: g.Next, ReadHeaderTimeout: 5 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateClosed {
				closed.Add(1)
			}
		}}
	if guard {
		hs.Handler, hs.ConnContext = g, g.ConnContext
	}
	go hs.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String(), closed
}

// dial connects to addr, closed with the test.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// big answers /big with up to 1 GiB, far more than a socket's buffers
// hold, and stops at the first failed write; other paths get "ok".
var big = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/big" {
		io.WriteString(w, "ok") //nolint:errcheck // the test reads the outcome on the connection
		return
	}
	chunk := []byte(strings.Repeat("x", 1<<20))
	for range 1024 {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
})

// stall asks addr for /big and never reads the answer.
func stall(t *testing.T, addr string) {
	t.Helper()
	c := dial(t, addr)
	c.(*net.TCPConn).SetReadBuffer(4096) //nolint:errcheck // a hint
	fmt.Fprint(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
}

// TestStalledReaderIsCut: a client that sends a request and never reads
// the answer has its connection closed once the write deadline passes.
// The same client of a server without the guard, stalled first, is
// still connected then: the server would wait on it for ever.
func TestStalledReaderIsCut(t *testing.T) {
	g := &Guard{Write: 100 * time.Millisecond, Body: time.Second, Next: big}
	plainAddr, plainClosed := serve(t, g, false)
	guardedAddr, guardedClosed := serve(t, g, true)
	stall(t, plainAddr)
	stall(t, guardedAddr)
	itest.WaitFor(t, 10*time.Second, "the guarded server to close the stalled connection", func() bool {
		return guardedClosed.Load() == 1
	})
	if plainClosed.Load() != 0 {
		t.Fatal("without the guard the connection closed too: the test does not show what the guard does")
	}
}

// TestSlowBodyIsCut: a request whose body stops arriving fails its read
// once the body deadline passes. The same request to a server without
// the guard, sent first, is still being read then.
func TestSlowBodyIsCut(t *testing.T) {
	var plainErr, guardedErr atomic.Value
	reader := func(v *atomic.Value) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, err := io.ReadAll(r.Body)
			v.Store(fmt.Sprint(err))
		})
	}
	plainAddr, _ := serve(t, &Guard{Next: reader(&plainErr)}, false)
	guardedAddr, _ := serve(t, &Guard{Write: time.Second, Body: 100 * time.Millisecond, Next: reader(&guardedErr)}, true)
	for _, addr := range []string{plainAddr, guardedAddr} {
		fmt.Fprint(dial(t, addr), "POST /reload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
	}
	itest.WaitFor(t, 10*time.Second, "the guarded handler's body read to end", func() bool { return guardedErr.Load() != nil })
	if err := guardedErr.Load().(string); !strings.Contains(err, "timeout") {
		t.Fatalf("the handler's body read ended with %s; want a timeout", err)
	}
	if err := plainErr.Load(); err != nil {
		t.Fatalf("without the guard the read ended (%v): the test does not show what the guard does", err)
	}
}

// TestKeepAliveOutlivesDeadline: a connection idle for longer than its
// write deadline still answers its next request (the deadline moves
// forward with the request). That the deadline has passed is shown by a
// stalled client of the same server, asked after the first request,
// being cut: its deadline came no sooner.
func TestKeepAliveOutlivesDeadline(t *testing.T) {
	g := &Guard{Write: 50 * time.Millisecond, Body: 50 * time.Millisecond, Next: big}
	addr, closed := serve(t, g, true)
	c := dial(t, addr)
	br := bufio.NewReader(c)
	get := func() {
		t.Helper()
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ok" {
			t.Fatalf("body %q", b)
		}
	}
	get()
	stall(t, addr)
	itest.WaitFor(t, 10*time.Second, "the stalled client to be cut", func() bool { return closed.Load() == 1 })
	get()
	if closed.Load() != 1 {
		t.Fatal("the idle keep-alive connection was closed")
	}
}
