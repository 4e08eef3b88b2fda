package store

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// dropProxy forwards TCP to a Redis until it is cut; then it drops what
// clients send, as a host behind a dead link or a stopped container does:
// no refusal, no reset, no answer. A connection that dropped a byte drops
// everything for good (its stream lost a request); new connections made
// after the link is back are forwarded.
type dropProxy struct {
	ln     net.Listener
	target string
	cut    atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newDropProxy(t *testing.T, target string) *dropProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{ln: ln, target: target}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			go p.serve(c)
		}
	}()
	return p
}

func (p *dropProxy) serve(c net.Conn) {
	if p.cut.Load() {
		return // held open, never answered
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, up)
	p.mu.Unlock()
	go func() { // answers come back only while the stream is whole
		buf := make([]byte, 32<<10)
		for {
			n, err := up.Read(buf)
			if err != nil {
				return
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	dropped := false
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		dropped = dropped || p.cut.Load()
		if dropped {
			continue
		}
		if _, err := up.Write(buf[:n]); err != nil {
			return
		}
	}
}

// TestOutageLogsOnceEachWay: when Redis comes back after an outage in
// which packets were dropped, the calls that hung on the old connections
// end with timeouts after it answered again. They must not mark Redis
// unreachable again: one line each way, and the state stays connected.
func TestOutageLogsOnceEachWay(t *testing.T) {
	r := itest.Redis(t, 0)
	proxy := newDropProxy(t, r.Addr)
	logs := &itest.Buffer{}
	s, err := Open(Options{URL: "redis://" + proxy.ln.Addr().String(), CheckEvery: 20 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var hanging atomic.Int64 // calls in flight that began during the cut
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				duringCut := proxy.cut.Load()
				if duringCut {
					hanging.Add(1)
				}
				s.Do(ctx, 600*time.Millisecond, func(ctx context.Context, c redis.UniversalClient) error { //nolint:errcheck
					return c.Incr(ctx, "outage").Err()
				})
				if duringCut {
					hanging.Add(-1)
				}
				select {
				case <-ctx.Done():
				case <-time.After(10 * time.Millisecond):
				}
			}
		}()
	}
	itest.WaitFor(t, 5*time.Second, "calls through the proxy", func() bool { return strings.Contains(logs.String(), "redis connected") })
	proxy.cut.Store(true)
	itest.WaitFor(t, 5*time.Second, "the outage to be seen", func() bool { return !s.Connected() })
	itest.WaitFor(t, 5*time.Second, "calls hanging on the dead link", func() bool { return hanging.Load() >= 3 })
	proxy.cut.Store(false)
	itest.WaitFor(t, 5*time.Second, "Redis to answer again", s.Connected)
	itest.WaitFor(t, 5*time.Second, "the calls begun during the outage to end", func() bool { return hanging.Load() == 0 })
	cancel()
	wg.Wait()
	out := logs.String()
	if n := strings.Count(out, "redis unreachable"); n != 1 {
		t.Errorf("the outage was logged %d times; want once:\n%s", n, out)
	}
	if n := strings.Count(out, "redis reachable again"); n != 1 {
		t.Errorf("the return was logged %d times; want once:\n%s", n, out)
	}
	if !s.Connected() {
		t.Errorf("after the hung calls ended the store is disconnected (%s)", s.LastError())
	}
}
