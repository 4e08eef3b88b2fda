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

// stalled is a dispatcher whose stderr is a pipe the test reads only when
// it chooses to.
type stalled struct {
	addr   string
	cmd    *exec.Cmd
	stderr *os.File // the pipe's read end
	exited chan error
}

// startStalled starts the binary with its stderr on a pipe and waits
// until it answers /healthz.
func startStalled(t *testing.T) *stalled {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, cfg, goodConfig("stall"))
	s := &stalled{addr: fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t)), exited: make(chan error, 1)}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close() })
	s.stderr = pr
	s.cmd = exec.Command(itest.Binary(t), "-config", cfg, "-listen", s.addr)
	s.cmd.Stderr = pw
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close() // the child holds its own copy
	go func() { s.exited <- s.cmd.Wait() }()
	t.Cleanup(func() { syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) })
	c := itest.NoRedirectClient(10 * time.Second)
	itest.WaitFor(t, 10*time.Second, "the dispatcher to listen", func() bool {
		resp, err := c.Get("http://" + s.addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return s
}

// terminate sends SIGTERM and waits for the process to exit.
func (s *stalled) terminate(t *testing.T) error {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.exited:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("SIGTERM did not stop the dispatcher")
		return nil
	}
}

// TestStalledLogOutput runs the binary with its stderr on a pipe that
// nobody reads, as a blocking Docker log driver or a stuck journald would
// leave it: 5,000 logged requests are all answered, /healthz answers, the
// drops are counted in /metrics and reported once the pipe is read again,
// and SIGTERM still stops the process.
func TestStalledLogOutput(t *testing.T) {
	s := startStalled(t)
	addr, pr := s.addr, s.stderr
	c := itest.NoRedirectClient(10 * time.Second)
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
	copied := make(chan struct{})
	go func() {
		io.Copy(&out, pr) //nolint:errcheck // ends when the process exits
		close(copied)
	}()
	itest.WaitFor(t, 10*time.Second, "the report of the dropped lines", func() bool {
		return strings.Contains(out.String(), `"msg":"log output was blocked; lines dropped"`)
	})
	if err := s.terminate(t); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	select { // what the process wrote before it exited, read to the end
	case <-copied:
	case <-time.After(10 * time.Second):
		t.Fatal("the log pipe was not closed after the process exited")
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
	s := startStalled(t)
	addr := s.addr
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
	s.terminate(t) //nolint:errcheck // exiting at all is the point
}
