package main

import (
	"bytes"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// ctlRun runs `dispatcher ctl args…` with env, and returns its output and
// exit code.
func ctlRun(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(itest.Binary(t), append([]string{"ctl"}, args...)...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// TestCtl runs every `dispatcher ctl` command against a running
// dispatcher, and the failures an operator meets: a wrong token, an
// unknown mirror, a bad reload, an address nobody answers on.
func TestCtl(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "mirrors.json")
	good := `{"pools": [{"name": "pub", "routes": ["/pub/*file"], "strategy": "roundrobin", "mirrors": [
	  {"name": "a", "url": "http://a.example", "weight": 3}, {"name": "b", "url": "http://b.example"}]}]}`
	itest.WriteFile(t, cfg, good)
	const token = "ctl-token"
	p := itest.Dispatcher(t, cfg, []string{"DISPATCHER_ADMIN_TOKEN=" + token}, "-quiet")
	addr := "http://" + p.Addr
	env := []string{"DISPATCHER_ADMIN_TOKEN=" + token}
	client := itest.NoRedirectClient(10 * time.Second)
	for range 8 {
		resp, err := client.Get(addr + "/pub/x.iso")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	out, errs, code := ctlRun(t, env, "-addr", addr, "-interval", "0", "status")
	if code != 0 || !strings.Contains(out, "POOL") || !strings.Contains(out, "roundrobin") || !hasFields(out, "a", "up", "3") {
		t.Errorf("status: exit %d\n%s%s", code, out, errs)
	}
	out, _, code = ctlRun(t, env, "-addr", addr, "-json", "status")
	if code != 0 || !strings.HasPrefix(out, "{") || !strings.Contains(out, `"pools"`) {
		t.Errorf("-json status: exit %d %s", code, out)
	}
	// The flags may follow the command, as they do for explain.
	out, errs, code = ctlRun(t, env, "-addr", addr, "status", "-json")
	if code != 0 || !strings.HasPrefix(out, "{") || !strings.Contains(out, `"pools"`) {
		t.Errorf("status -json: exit %d %s%s", code, out, errs)
	}
	out, errs, code = ctlRun(t, env, "status", "-addr", addr, "-interval", "0")
	if code != 0 || !strings.Contains(out, "POOL") {
		t.Errorf("status -addr … -interval 0: exit %d %s%s", code, out, errs)
	}
	if _, _, code = ctlRun(t, env, "-addr", addr, "status", "extra"); code != 2 {
		t.Errorf("status with an argument: exit %d; want 2", code)
	}

	out, errs, code = ctlRun(t, env, "-addr", addr, "drain", "pub", "a")
	if code != 0 || !strings.Contains(out, "pub/a drained") {
		t.Errorf("drain: exit %d %s%s", code, out, errs)
	}
	for range 6 {
		resp, err := client.Get(addr + "/pub/x.iso")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if m := resp.Header.Get("X-Mirror"); m != "b" {
			t.Fatalf("after drain a request went to %s", m)
		}
	}
	out, _, _ = ctlRun(t, env, "-addr", addr, "-interval", "0", "status")
	if !hasFields(out, "a", "drained") {
		t.Errorf("status after drain:\n%s", out)
	}
	if out, errs, code = ctlRun(t, env, "-addr", addr, "enable", "pub", "a"); code != 0 || !strings.Contains(out, "pub/a enabled") {
		t.Errorf("enable: exit %d %s%s", code, out, errs)
	}

	out, errs, code = ctlRun(t, env, "-addr", addr, "explain", "/pub/x.iso", "-ip", "198.51.100.4")
	if code != 0 || !strings.Contains(out, "198.51.100.4") || !strings.Contains(out, "round robin") || !hasFields(out, "a", "3", "75.0%") {
		t.Errorf("explain: exit %d\n%s%s", code, out, errs)
	}

	if out, errs, code = ctlRun(t, env, "-addr", addr, "reload"); code != 0 || !strings.Contains(out, "reloaded") {
		t.Errorf("reload: exit %d %s%s", code, out, errs)
	}
	itest.WriteFile(t, cfg, `{"pools": [{"name": "pub", "routes": ["/pub/*file"], "mirrors": [{"name": "a", "url": "ftp://x"}]}]}`)
	if _, errs, code = ctlRun(t, env, "-addr", addr, "reload"); code != 1 || !strings.Contains(errs, "pools[0].mirrors[0].url") {
		t.Errorf("a bad reload: exit %d, %s", code, errs)
	}
	itest.WriteFile(t, cfg, good)

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"wrong token", []string{"DISPATCHER_ADMIN_TOKEN=nope"}, []string{"-addr", addr, "drain", "pub", "a"}, 1, "refused the admin token"},
		{"no token", nil, []string{"-addr", addr, "reload"}, 1, "DISPATCHER_ADMIN_TOKEN"},
		{"unknown mirror", env, []string{"-addr", addr, "drain", "pub", "nosuch"}, 1, "nosuch"},
		{"unknown pool", env, []string{"-addr", addr, "enable", "nopool", "a"}, 1, "nopool"},
		{"unreachable", env, []string{"-addr", "http://" + closedAddr(t), "-timeout", "2s", "status"}, 1, "cannot reach the dispatcher"},
		{"explain without a route", env, []string{"-addr", addr, "explain", "/nowhere"}, 1, "no pool route"},
		{"unknown command", env, []string{"-addr", addr, "frobnicate"}, 2, "unknown command"},
		{"drain without a mirror", env, []string{"-addr", addr, "drain", "pub"}, 2, "POOL MIRROR"},
		{"bad address", env, []string{"-addr", "127.0.0.1:8080", "status"}, 2, "not an http"},
	} {
		_, errs, code := ctlRun(t, tc.env, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d mentioning %q", tc.name, code, errs, tc.code, tc.want)
		}
	}
}

// hasFields reports whether some line of out has the fields words, in
// order (each a whole field).
func hasFields(out string, words ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		fields, k := strings.Fields(line), 0
		for _, f := range fields {
			if k < len(words) && f == words[k] {
				k++
			}
		}
		if k == len(words) {
			return true
		}
	}
	return false
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
