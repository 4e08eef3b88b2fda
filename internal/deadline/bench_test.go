package deadline

import (
	"bufio"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// BenchmarkKeepAlive: requests one after another on one keep-alive
// connection to an http.Server with the dispatcher's timeouts, its
// deadlines on the socket (what http.Server does alone) or through a
// Listener, from 50 connections at once. The clients' cost is in both.
func BenchmarkKeepAlive(b *testing.B) {
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Location"] = []string{"http://mirror.example/f"}
		w.WriteHeader(http.StatusFound)
	})
	for _, wrap := range []bool{false, true} {
		name := "socket"
		if wrap {
			name = "Listener"
		}
		b.Run(name, func(b *testing.B) {
			var ln net.Listener
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			if wrap {
				ln = Listen(ln, 10*time.Second, 0)
			}
			hs := &http.Server{Handler: redirect, ReadHeaderTimeout: 5 * time.Second,
				ReadTimeout: 15 * time.Second, IdleTimeout: time.Minute}
			go hs.Serve(ln) //nolint:errcheck // ends with Close
			defer hs.Close()
			addr := ln.Addr().String()
			b.ReportAllocs()
			b.SetParallelism(25) // 50 connections on 2 CPUs, like the load test's wrk -c50
			start := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				br := bufio.NewReader(c)
				req := []byte("GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
				for pb.Next() {
					if _, err := c.Write(req); err != nil {
						b.Error(err)
						return
					}
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						b.Error(err)
						return
					}
					resp.Body.Close()
				}
			})
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the CPU time the process has used, user and system, in
// nanoseconds: the benchmark's wall time includes the waits of a
// request and its answer crossing loopback.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru) //nolint:errcheck // cannot fail for RUSAGE_SELF
	return ru.Utime.Nano() + ru.Stime.Nano()
}
