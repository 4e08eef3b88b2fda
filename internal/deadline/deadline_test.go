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

// until polls cond until it holds or d passes.
func until(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// big answers with up to 1 GiB, far more than a socket's buffers hold,
// and stops at the first failed write.
var big = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	chunk := []byte(strings.Repeat("x", 1<<20))
	for range 1024 {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
})

// TestStalledReaderIsCut: a client that sends requests and never reads
// the responses has its connection closed once the write deadline
// passes; without the guard the server waits on it for ever (here: for
// the test's patience, ten times the deadline).
func TestStalledReaderIsCut(t *testing.T) {
	for _, guard := range []bool{true, false} {
		addr, closed := serve(t, &Guard{Write: 100 * time.Millisecond, Body: time.Second, Next: big}, guard)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.(*net.TCPConn).SetReadBuffer(4096) //nolint:errcheck // a hint
		fmt.Fprint(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
		cut := until(2*time.Second, func() bool { return closed.Load() == 1 })
		if guard && !cut {
			t.Fatal("the server still writes to a client that stopped reading")
		}
		if !guard && cut {
			t.Fatal("without the guard the connection closed: the test does not show what the guard does")
		}
	}
}

// TestSlowBodyIsCut: a request whose body stops arriving fails its read
// once the body deadline passes; without the guard the handler waits.
func TestSlowBodyIsCut(t *testing.T) {
	for _, guard := range []bool{true, false} {
		var readErr atomic.Value
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, err := io.ReadAll(r.Body)
			readErr.Store(fmt.Sprint(err))
		})
		addr, _ := serve(t, &Guard{Write: time.Second, Body: 100 * time.Millisecond, Next: h}, guard)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprint(c, "POST /reload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
		failed := until(2*time.Second, func() bool { return readErr.Load() != nil })
		if guard && (!failed || !strings.Contains(readErr.Load().(string), "timeout")) {
			t.Fatalf("the handler's body read ended with %v; want a timeout", readErr.Load())
		}
		if !guard && failed {
			t.Fatalf("without the guard the read ended (%v): the test does not show what the guard does", readErr.Load())
		}
	}
}

// TestKeepAliveOutlivesDeadline: a connection idle for longer than its
// write deadline still answers its next request (the deadline moves
// forward with the request), and requests without a body leave the read
// side alone.
func TestKeepAliveOutlivesDeadline(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }) //nolint:errcheck // test
	g := &Guard{Write: 50 * time.Millisecond, Body: 50 * time.Millisecond, Next: ok}
	addr, closed := serve(t, g, true)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
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
	start := time.Now()
	until(time.Second, func() bool { return time.Since(start) > 4*g.Write })
	get()
	if closed.Load() != 0 {
		t.Fatal("the connection was closed")
	}
}
