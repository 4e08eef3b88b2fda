// Package itest starts the real components integration tests use (the
// dispatcher binary, redis-server, snmpsimd) on free loopback ports and
// stops them when the test ends.
//
// A missing program fails the test when CI=true and skips it otherwise,
// with a message that says what to install.
package itest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Need returns the path of program, or ends the test: Fatal under CI=true,
// Skip otherwise. pkg names the Debian package that provides it.
func Need(t testing.TB, program, pkg string) string {
	t.Helper()
	for _, dir := range []string{"", "/usr/sbin/", "/usr/bin/", "/usr/local/bin/"} {
		if p, err := exec.LookPath(dir + program); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("%s not found: install Debian package %s (scripts/test.sh does)", program, pkg)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// Process is a program started by a test.
type Process struct {
	Cmd            *exec.Cmd
	Addr           string // host:port it serves on, when known
	stdout, stderr Buffer
}

// Output returns what the process wrote to stdout, then to stderr, so
// far. Once the process was waited for, it is all of it: exec's copying
// ends before Wait returns.
func (p *Process) Output() string { return p.stdout.String() + p.stderr.String() }

// Start runs name with args and stops it (SIGTERM, then SIGKILL) when the
// test ends.
func Start(t testing.TB, env []string, name string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &Process{Cmd: cmd}
	cmd.Stdout, cmd.Stderr = &p.stdout, &p.stderr
	// A child that keeps the output open must not hold Wait for ever.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { p.Stop() })
	return p
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.Cmd.Process.Signal(sig) }

// Stop ends the process and waits for it.
func (p *Process) Stop() {
	if p.Cmd.ProcessState != nil {
		return
	}
	// A stopped (SIGSTOPped) process must be continued to see SIGTERM.
	syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGCONT)
	p.Cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.Cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// Kill ends the process at once with SIGKILL and waits for it.
func (p *Process) Kill() {
	if p.Cmd.ProcessState != nil {
		return
	}
	syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	p.Cmd.Wait()
}

// WaitTCP waits until addr accepts connections.
func WaitTCP(t testing.TB, addr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not accept connections within %s", addr, within)
}

// WaitFor polls cond until it holds or within passes.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		if cond() {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s", within, what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Buffer is a bytes.Buffer safe for concurrent use: what a test's
// goroutine copies output into while the test reads it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WriteFile writes data to path at once (a temporary file renamed over
// it), as an operator's editor or deploy tool would: a reload never reads
// half a file.
func WriteFile(t testing.TB, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// WriteTree writes files (slash path → content) under dir, with their
// modification time set to at: a mirror's or an origin's tree.
func WriteTree(t testing.TB, dir string, files map[string]string, at time.Time) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(full, at, at); err != nil {
			t.Fatal(err)
		}
	}
}
