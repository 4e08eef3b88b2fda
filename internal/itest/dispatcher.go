package itest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary builds cmd/dispatcher once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dispatcher-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "dispatcher")
		out, err := exec.Command("go", "build", "-o", buildPath, ModuleRoot()+"/cmd/dispatcher").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// ModuleRoot is the repository's root directory.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Dispatcher starts the dispatcher binary on configFile, listening on a
// free port, and waits until /healthz answers.
func Dispatcher(t testing.TB, configFile string, env []string, args ...string) *Process {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	all := append([]string{"-config", configFile, "-listen", addr}, args...)
	p := Start(t, env, Binary(t), all...)
	p.Addr = addr
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if p.Cmd.ProcessState != nil {
			break
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("dispatcher did not come up on %s:\n%s", addr, p.Output())
	return nil
}

// NoRedirectClient is an HTTP client that returns 3xx answers as they are.
func NoRedirectClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	}
}
