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

// serve starts hs on a loopback port, through a Listener with stall when
// wrap is true, and counts the connections it has closed.
func serve(t *testing.T, hs *http.Server, wrap bool, stall time.Duration) (addr string, closed *atomic.Int32) {
	t.Helper()
	var ln net.Listener
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if wrap {
		ln = Listen(ln, stall, 10*time.Millisecond)
	}
	closed = new(atomic.Int32)
	hs.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
		}
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

// get asks for / on c and checks the answer.
func get(t *testing.T, c net.Conn, br *bufio.Reader) {
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

// stall asks for /big on a new connection to addr, after getting /
// first when after is set, and never reads the big answer.
func stall(t *testing.T, addr string, after bool) {
	t.Helper()
	c := dial(t, addr)
	c.(*net.TCPConn).SetReadBuffer(4096) //nolint:errcheck // a hint
	if after {
		get(t, c, bufio.NewReader(c))
	}
	fmt.Fprint(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
}

// TestStalledReaderIsCut: a client that sends a request and never reads
// the answer has its connection closed once a write has stalled for the
// bound, on its first request or a later one (net/http clears the
// connection's write deadline after every request). The same clients of
// a server without the Listener, stalled first, are still connected
// then: the server would wait on them for ever.
func TestStalledReaderIsCut(t *testing.T) {
	plainAddr, plainClosed := serve(t, &http.Server{Handler: big}, false, 0)
	addr, closed := serve(t, &http.Server{Handler: big}, true, 100*time.Millisecond)
	stall(t, plainAddr, false)
	stall(t, plainAddr, true)
	stall(t, addr, false)
	stall(t, addr, true)
	itest.WaitFor(t, 10*time.Second, "the Listener's server to close both stalled connections", func() bool {
		return closed.Load() == 2
	})
	if plainClosed.Load() != 0 {
		t.Fatal("without the Listener a connection closed too: the test does not show what the Listener does")
	}
}

// TestStallCutAfterClose: a write that stalls after the listener has
// closed (a graceful shutdown waits on the connections it leaves open) is
// still cut: the sweeper ends with the last connection, not with Accept.
func TestStallCutAfterClose(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Listen(raw, 100*time.Millisecond, 10*time.Millisecond)
	var closed atomic.Int32
	hs := &http.Server{Handler: big, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
		}
	}}
	served := make(chan struct{})
	go func() { hs.Serve(l); close(served) }() //nolint:errcheck // ends when l closes
	t.Cleanup(func() { hs.Close() })
	c := dial(t, raw.Addr().String())
	c.(*net.TCPConn).SetReadBuffer(4096) //nolint:errcheck // a hint
	get(t, c, bufio.NewReader(c))
	l.Close()
	<-served
	fmt.Fprint(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	itest.WaitFor(t, 10*time.Second, "the stalled connection to be cut after the listener closed", func() bool {
		return closed.Load() == 1
	})
}

// TestTimeoutsHold: http.Server's ReadHeaderTimeout, ReadTimeout and
// IdleTimeout hold through a Listener, though none of them reaches the
// socket: headers that stop coming, a body that stops coming and an idle
// connection are all cut.
func TestTimeoutsHold(t *testing.T) {
	var bodyErr atomic.Value
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			_, err := io.ReadAll(r.Body)
			bodyErr.Store(fmt.Sprint(err))
			return
		}
		io.WriteString(w, "ok") //nolint:errcheck // read by the test
	})
	addr, closed := serve(t, &http.Server{Handler: h, ReadHeaderTimeout: 100 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, IdleTimeout: 300 * time.Millisecond}, true, time.Minute)

	fmt.Fprint(dial(t, addr), "GET / HTTP/1.1\r\nHost: x\r\n")
	itest.WaitFor(t, 10*time.Second, "unfinished headers to be cut", func() bool { return closed.Load() == 1 })

	fmt.Fprint(dial(t, addr), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
	itest.WaitFor(t, 10*time.Second, "the body read to end", func() bool { return bodyErr.Load() != nil })
	if err := bodyErr.Load().(string); !strings.Contains(err, "timeout") {
		t.Fatalf("the body read ended with %s; want a timeout", err)
	}

	idle := dial(t, addr)
	get(t, idle, bufio.NewReader(idle))
	itest.WaitFor(t, 10*time.Second, "the idle connection to be cut", func() bool { return closed.Load() == 3 })
}

// TestKeepAliveOutlivesHeaderTimeout: a connection idle for longer than
// the header timeout, but not the idle timeout, still answers its next
// request. That the header timeout has passed is shown by another
// client's unfinished headers, sent after the first request, being cut.
func TestKeepAliveOutlivesHeaderTimeout(t *testing.T) {
	addr, closed := serve(t, &http.Server{Handler: big, ReadHeaderTimeout: 50 * time.Millisecond,
		IdleTimeout: time.Hour}, true, time.Minute)
	c := dial(t, addr)
	br := bufio.NewReader(c)
	get(t, c, br)
	fmt.Fprint(dial(t, addr), "GET / HTTP/1.1\r\nHost: x\r\n")
	itest.WaitFor(t, 10*time.Second, "the unfinished headers to be cut", func() bool { return closed.Load() == 1 })
	get(t, c, br)
	if closed.Load() != 1 {
		t.Fatal("the idle keep-alive connection was closed")
	}
}

// accepted returns both ends of a connection accepted by a Listener
// ticking every tick.
func accepted(t *testing.T, tick time.Duration) (*Listener, *Conn, net.Conn) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Listen(raw, 0, tick)
	t.Cleanup(func() { l.Close() })
	client := dial(t, raw.Addr().String())
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	return l, sc.(*Conn), client
}

// TestPassedDeadlineWakesRead: a deadline already passed when it is set
// wakes a Read under way at once, as net/http's background read needs,
// though the sweeper would not look for an hour; clearing it lets the
// next Read have the data.
func TestPassedDeadlineWakesRead(t *testing.T) {
	_, sc, client := accepted(t, time.Hour)
	done := make(chan error, 1)
	go func() {
		_, err := sc.Read(make([]byte, 1))
		done <- err
	}()
	sc.SetReadDeadline(time.Unix(1, 0))
	select {
	case err := <-done:
		if !isTimeout(err) {
			t.Fatalf("the read ended with %v; want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read was not woken within 10s")
	}
	sc.SetReadDeadline(time.Time{})
	readsWhatIsSent(t, sc, client)
}

// readsWhatIsSent fails t unless a byte client sends is read from sc.
func readsWhatIsSent(t *testing.T, sc *Conn, client net.Conn) {
	t.Helper()
	client.Write([]byte("x"))
	b := make([]byte, 1)
	if _, err := sc.Read(b); err != nil || b[0] != 'x' {
		t.Fatalf("read %q, %v; want the byte sent", b, err)
	}
}

// TestCrossedDeadlineIsNotTheReaders: when the sweeper puts a passed
// deadline on the socket just as a later one is set (here played in the
// order that crosses them), the Read does not fail: that deadline is no
// longer the connection's.
func TestCrossedDeadlineIsNotTheReaders(t *testing.T) {
	_, sc, client := accepted(t, time.Hour)
	sc.readBy.Store(time.Now().Add(-time.Second).UnixNano())
	if !sc.readDue(time.Now().UnixNano()) {
		t.Fatal("a passed deadline is not due")
	}
	sc.SetReadDeadline(time.Now().Add(time.Hour))
	sc.expire(sc.readBy.Load()) // the sweeper acts on what it saw before
	readsWhatIsSent(t, sc, client)
}

// TestClosedConnsForgotten: the Listener keeps no closed connection.
func TestClosedConnsForgotten(t *testing.T) {
	l, sc, _ := accepted(t, time.Hour)
	sc.Close()
	sc.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.conns) != 0 {
		t.Fatalf("%d connections kept after close", len(l.conns))
	}
}

// TestWriteNotCutEarly: a Write's start is on the sweeper's clock, up to
// a tick behind the real one, so it is cut a tick after the bound on
// that clock, never at the bound.
func TestWriteNotCutEarly(t *testing.T) {
	c := &Conn{l: &Listener{stall: time.Second, tick: 250 * time.Millisecond}}
	start := time.Unix(100, 0).UnixNano()
	c.writeAt.Store(start)
	if c.writeDue(start + int64(time.Second)) {
		t.Fatal("a Write is due at the bound on the sweeper's clock: it may have begun a tick later")
	}
	if !c.writeDue(start + int64(1250*time.Millisecond)) {
		t.Fatal("a Write is not due a tick after the bound")
	}
}
