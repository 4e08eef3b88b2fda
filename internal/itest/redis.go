package itest

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Redis starts redis-server on a free loopback port (or on port, when it
// is not 0, to restart one on the same address).
func Redis(t testing.TB, port int) *Process {
	t.Helper()
	bin := Need(t, "redis-server", "redis-server")
	if port == 0 {
		port = FreePort(t)
	}
	p := Start(t, nil, bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--dir", t.TempDir())
	p.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	WaitTCP(t, p.Addr, 10*time.Second)
	return p
}

// SilentListener accepts TCP connections, reads what they send and never
// answers: a Redis that hangs. It returns its address.
func SilentListener(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}
