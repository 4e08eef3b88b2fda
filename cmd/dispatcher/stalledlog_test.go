package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestStalledLogOutput runs the binary with its stderr on a pipe that
// nobody reads, as a blocking Docker log driver or a stuck journald would
// leave it: 5,000 logged requests are all answered, /healthz answers, the
// drops are counted in /metrics and reported once the pipe is read again,
// and SIGTERM still stops the process.
func TestStalledLogOutput(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "mirrors.json")
	writeFile(t, cfg, goodConfig("stall"))
	addr := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd := exec.Command(itest.Binary(t), "-config", cfg, "-listen", addr)
	cmd.Stderr = pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close() // the child holds its own copy
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	c := itest.NoRedirectClient(10 * time.Second)
	itest.WaitFor(t, 10*time.Second, "the dispatcher to listen", func() bool {
		resp, err := c.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	// A long path makes each access-log line ~1 KB: 5,000 of them are
	// far more than the pipe (64 KiB) and the log buffer (1 MiB) hold.
	path := "/get/" + strings.Repeat("p", 900) + ".iso"
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				resp, err := c.Get("http://" + addr + path)
				if err != nil || resp.StatusCode != 302 {
					failed.Add(1)
					continue
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of 5000 requests failed while the log output was stalled", failed.Load())
	}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz with a stalled log: %v %v", err, resp)
	}
	resp.Body.Close()
	dropped := metricValue(t, &itest.Process{Addr: addr}, "dispatcher_log_dropped_total")
	if dropped == 0 {
		t.Errorf("no dropped lines counted with a stalled log output")
	}

	// Read the pipe again: the loss is reported, once.
	var out itest.Buffer
	go io.Copy(&out, pr) //nolint:errcheck // ends when the process exits
	itest.WaitFor(t, 10*time.Second, "the report of the dropped lines", func() bool {
		return strings.Contains(out.String(), `"msg":"log output was blocked; lines dropped"`)
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("SIGTERM did not stop the dispatcher")
	}
	if n := strings.Count(out.String(), "lines dropped"); n != 1 {
		t.Errorf("the loss was reported %d times; want once", n)
	}
	if !strings.Contains(out.String(), `"msg":"shutting down"`) {
		t.Errorf("the shutdown line was not flushed:\n%.2000s", out.String())
	}
	t.Logf("5000 requests answered with the log stalled; %.0f lines dropped", dropped)
}

// TestStalledLogShutdown: with the log output stalled for good, SIGTERM
// still stops the process.
func TestStalledLogShutdown(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "mirrors.json")
	writeFile(t, cfg, goodConfig("stall"))
	addr := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd := exec.Command(itest.Binary(t), "-config", cfg, "-listen", addr)
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	c := itest.NoRedirectClient(10 * time.Second)
	path := "/get/" + strings.Repeat("q", 900) + ".iso"
	itest.WaitFor(t, 10*time.Second, "the log pipe to fill", func() bool {
		for range 200 {
			resp, err := c.Get("http://" + addr + path)
			if err != nil {
				return false
			}
			resp.Body.Close()
		}
		return metricValue(t, &itest.Process{Addr: addr}, "dispatcher_log_dropped_total") > 0
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatal("SIGTERM did not stop a dispatcher whose log output is stalled")
	}
}
