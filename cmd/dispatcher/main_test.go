package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
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

func goodConfig(mirror string) string {
	return fmt.Sprintf(`{"pools": [
  {"name": "home", "routes": ["/"], "strategy": "roundrobin",
   "mirrors": [{"name": "m1", "url": "http://%s-1.example"}, {"name": "m2", "url": "http://%s-2.example"}]},
  {"name": "files", "routes": ["/get/*file"], "strategy": "random",
   "mirrors": [{"name": "f1", "url": "http://%s-f.example"}]}]}`, mirror, mirror, mirror)
}

// TestReloadUnderLoad sends requests from 8 clients while the config file
// is rewritten (alternately valid with new mirror URLs, and invalid) and the
// process gets SIGHUP: no request may fail, every answer is a 302 to a
// mirror of some valid generation, and the last valid file ends up served.
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mirrors.json")
	itest.WriteFile(t, cfg, goodConfig("gen0"))
	p := itest.Dispatcher(t, cfg, nil, "-quiet")
	client := itest.NoRedirectClient(5 * time.Second)

	var ok, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				resp, err := client.Get("http://" + p.Addr + "/get/file.iso")
				if err != nil {
					failed.Add(1)
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				resp.Body.Close()
				loc := resp.Header.Get("Location")
				if resp.StatusCode != 302 || !strings.HasPrefix(loc, "http://gen") || !strings.HasSuffix(loc, "-f.example/get/file.iso") {
					failed.Add(1)
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%d %q", resp.StatusCode, loc))
					mu.Unlock()
					continue
				}
				ok.Add(1)
			}
		}()
	}
	for gen := 1; gen <= 10; gen++ {
		if gen%3 == 0 {
			itest.WriteFile(t, cfg, `{"pools": [{"name": "broken", "routes": ["/"], "mirrors": [{"name": "x", "url": "not a url"}]}]}`)
		} else {
			itest.WriteFile(t, cfg, goodConfig(fmt.Sprintf("gen%d", gen)))
		}
		before := reloadsLogged(p)
		if err := p.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		itest.WaitFor(t, 10*time.Second, fmt.Sprintf("reload %d to be logged", gen), func() bool { return reloadsLogged(p) > before })
	}
	cancel()
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed during reloads; first: %v", failed.Load(), ok.Load()+failed.Load(), failures[:min(5, len(failures))])
	}
	if ok.Load() < 100 {
		t.Errorf("only %d requests succeeded; the test proves little", ok.Load())
	}
	resp, err := client.Get("http://" + p.Addr + "/get/file.iso")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "http://gen10-f.example/get/file.iso" {
		t.Errorf("after the last reload Location = %q; want gen10's mirror", loc)
	}
	out := p.Output()
	if !strings.Contains(out, "reload rejected") || !strings.Contains(out, `not a url`) {
		t.Errorf("the rejected reloads were not logged with their errors:\n%s", out)
	}
	t.Logf("%d requests, 0 failed, across 10 reloads (3 rejected)", ok.Load())
}

// reloadsLogged counts the reloads, done or rejected, in p's log.
func reloadsLogged(p *itest.Process) int {
	out := p.Output()
	return strings.Count(out, `"msg":"configuration reloaded"`) + strings.Count(out, `"msg":"reload rejected`)
}

// TestOverlappingReloads sends SIGHUPs and admin API reloads at once, 20
// times over, under load, with health probes and SNMP polls configured:
// the process lives, every API reload answers 200, no request fails, and
// the file's last version is what serves.
func TestOverlappingReloads(t *testing.T) {
	ms := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(ms.Close)
	mirror := ms.URL
	cfgText := func(gen int) string {
		return fmt.Sprintf(`{"health": {"schedule": "@every 1s", "timeout": "1s"},
		  "feedback": {"schedule": "@every 1s", "timeout": "200ms"},
		  "pools": [{"name": "files", "routes": ["/get/*file"], "strategy": "roundrobin", "mirrors": [
		    {"name": "gen%d", "url": "http://gen%d.example", "health_url": "%s",
		     "snmp": {"target": "127.0.0.1:9", "community": "public", "if_index": 1}}]}]}`, gen, gen, mirror)
	}
	cfg := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, cfg, cfgText(0))
	const token = "overlap-token"
	p := itest.Dispatcher(t, cfg, []string{"DISPATCHER_ADMIN_TOKEN=" + token}, "-quiet")
	client := itest.NoRedirectClient(10 * time.Second)

	var ok, failed atomic.Int64
	var firstFailure atomic.Value
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				resp, err := client.Get("http://" + p.Addr + "/get/a.iso")
				if err != nil || resp.StatusCode != 302 {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprint(err, resp))
					continue
				}
				resp.Body.Close()
				ok.Add(1)
			}
		}()
	}
	reload := func() error {
		req, _ := http.NewRequest("POST", "http://"+p.Addr+"/api/reload", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("POST /api/reload = %d", resp.StatusCode)
		}
		return nil
	}
	for gen := 1; gen <= 20; gen++ {
		itest.WriteFile(t, cfg, cfgText(gen))
		var rw sync.WaitGroup
		for range 3 {
			rw.Add(1)
			go func() {
				defer rw.Done()
				if err := reload(); err != nil {
					t.Errorf("generation %d: %v", gen, err)
				}
			}()
		}
		if err := p.Signal(syscall.SIGHUP); err != nil {
			t.Fatalf("SIGHUP: %v (the process is gone?)\n%s", err, p.Output())
		}
		rw.Wait()
	}
	cancel()
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed; first: %v", failed.Load(), ok.Load()+failed.Load(), firstFailure.Load())
	}
	// The last SIGHUP may still be running: wait for the last file.
	itest.WaitFor(t, 10*time.Second, "gen20 to serve", func() bool {
		resp, err := client.Get("http://" + p.Addr + "/get/a.iso")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.Header.Get("X-Mirror") == "gen20"
	})
	if out := p.Output(); strings.Contains(out, "panic") {
		t.Errorf("the log shows a panic:\n%s", out)
	}
	t.Logf("%d requests, %d failed, across 20 × (3 API reloads + SIGHUP)", ok.Load(), failed.Load())
}

func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mirrors.json")
	itest.WriteFile(t, cfg, goodConfig("a"))
	pprofAddr := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
	p := itest.Dispatcher(t, cfg, []string{"DISPATCHER_PPROF=" + pprofAddr})
	c := itest.NoRedirectClient(5 * time.Second)
	resp, err := c.Get("http://" + p.Addr + "/get/a.iso")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// pprof answers on its own listener, never on the public port.
	if resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/"); err != nil || resp.StatusCode != 200 {
		t.Errorf("pprof listener: %v %v", err, resp)
	}
	if resp, err := http.Get("http://" + p.Addr + "/debug/pprof/"); err != nil || resp.StatusCode != 404 {
		t.Errorf("pprof on the public port: %v %v; want 404", err, resp)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.Cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, p.Output())
	}
	out := p.Output()
	if !strings.Contains(out, "shutting down") {
		t.Errorf("no shutdown log:\n%s", out)
	}
	// The access log line of the redirect, flushed at shutdown.
	if !strings.Contains(out, `"msg":"request","method":"GET","path":"/get/a.iso","status":302,"client_ip":"127.0.0.1","mirror":"f1","duration_us":`) {
		t.Errorf("no access log line for the redirect:\n%s", out)
	}
}

func TestCheckAndVersion(t *testing.T) {
	bin := itest.Binary(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	itest.WriteFile(t, good, goodConfig("a"))
	// Errors of the file, a route collision and a geo database that does
	// not open: all reported in one pass (the README's example).
	itest.WriteFile(t, bad, `{"geoip": "missing.mmdb", "pools": [
	  {"name": "p", "routes": ["/"], "strategy": "fastest", "mirrors": [{"name": "a", "url": "http://a", "colour": "red"}]},
	  {"name": "q", "routes": ["/get/:name", "/get/:file"], "strategy": "random", "mirrors": [{"name": "b", "url": "http://b"}]}]}`)

	out, err := exec.Command(bin, "-check", "-config", good).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "test is successful") {
		t.Errorf("-check good: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "-check", "-config", bad).CombinedOutput()
	if code := exitCode(err); code != 1 {
		t.Errorf("-check bad exit code = %d; want 1\n%s", code, out)
	}
	for _, want := range []string{
		bad + `: pools[0].mirrors[0].colour: unknown key`,
		bad + `: pools[0].strategy: unknown strategy "fastest"`,
		bad + `: pools[1].routes[1]: route "/get/:file" collides with another route`,
		bad + `: geoip: `,
		"test failed",
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("-check bad output lacks %q:\n%s", want, out)
		}
	}
	// The environment names the file when the flag does not.
	cmd := exec.Command(bin, "-check")
	cmd.Env = append(os.Environ(), "DISPATCHER_CONFIG="+bad)
	if out, err := cmd.CombinedOutput(); exitCode(err) != 1 || !bytes.Contains(out, []byte(bad)) {
		t.Errorf("-check with DISPATCHER_CONFIG: %v\n%s", err, out)
	}
	// -check opens the geo database too.
	notDB := filepath.Join(dir, "not.mmdb")
	itest.WriteFile(t, notDB, "not a database")
	out, err = exec.Command(bin, "-check", "-config", good, "-geoip", notDB).CombinedOutput()
	if exitCode(err) != 1 || !bytes.Contains(out, []byte(good+": geoip: geoip "+notDB)) {
		t.Errorf("-check with a bad geoip: %v\n%s", err, out)
	}
	// And the ASN database: one that does not open, and a country
	// database given as one.
	for db, want := range map[string]string{
		notDB: ": asn_db: asn_db " + notDB,
		filepath.Join(itest.ModuleRoot(), "data", "geo-whois-asn-country.mmdb"): "its records have no autonomous_system_number",
	} {
		asnCfg := filepath.Join(dir, "asn.json")
		itest.WriteFile(t, asnCfg, fmt.Sprintf(`{"asn_db": %q, "pools": [{"name": "p", "routes": ["/"], "mirrors": [{"name": "a", "url": "http://a", "asn": [3320]}]}]}`, db))
		out, err = exec.Command(bin, "-check", "-config", asnCfg).CombinedOutput()
		if exitCode(err) != 1 || !bytes.Contains(out, []byte(want)) {
			t.Errorf("-check with asn_db %s: %v\n%s", db, err, out)
		}
	}
	// A positional argument is a usage error: exit 2 with the usage.
	out, err = exec.Command(bin, good).CombinedOutput()
	if code := exitCode(err); code != 2 || !bytes.Contains(out, []byte("unexpected argument")) || !bytes.Contains(out, []byte("Usage:")) {
		t.Errorf("dispatcher FILE: exit %d; want 2 with the usage\n%s", code, out)
	}
	out, err = exec.Command(bin, "-no-such-flag").CombinedOutput()
	if code := exitCode(err); code != 2 || !bytes.Contains(out, []byte("Usage:")) {
		t.Errorf("dispatcher -no-such-flag: exit %d; want 2 with the usage\n%s", code, out)
	}
	// -help names the environment variables too.
	out, err = exec.Command(bin, "-help").CombinedOutput()
	for _, want := range []string{"DISPATCHER_CONFIG", "DISPATCHER_ADMIN_TOKEN", "DISPATCHER_PPROF", "-config"} {
		if err != nil || !bytes.Contains(out, []byte(want)) {
			t.Errorf("-help: %v; lacks %s\n%s", err, want, out)
		}
	}
	// Relative paths in the file are relative to the file, not to the
	// working directory; a geo database that does not open is an error at
	// start as for -check.
	sub := filepath.Join(dir, "etc")
	if err := os.MkdirAll(filepath.Join(sub, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(filepath.Join("..", "..", "data", "geo-whois-asn-country.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	itest.WriteFile(t, filepath.Join(sub, "data", "geo.mmdb"), string(db))
	geoCfg := `{"geoip": "data/%s", "pools": [{"name": "p", "routes": ["/"], "strategy": "geo", "mirrors": [{"name": "a", "url": "http://a.example"}]}]}`
	itest.WriteFile(t, filepath.Join(sub, "geo.json"), fmt.Sprintf(geoCfg, "geo.mmdb"))
	cmd = exec.Command(bin, "-check", "-config", filepath.Join(sub, "geo.json"))
	cmd.Dir = t.TempDir() // elsewhere
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("-check of a file with a relative geoip, from another directory: %v\n%s", err, out)
	}
	itest.WriteFile(t, filepath.Join(sub, "nogeo.json"), fmt.Sprintf(geoCfg, "missing.mmdb"))
	cmd = exec.Command(bin, "-config", filepath.Join(sub, "nogeo.json"), "-listen", "127.0.0.1:0")
	if out, err := cmd.CombinedOutput(); exitCode(err) != 1 || !bytes.Contains(out, []byte("geoip")) {
		t.Errorf("start with a geo database that does not open: %v; want exit 1 naming geoip\n%s", err, out)
	}
	out, err = exec.Command(bin, "-version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "dispatcher ") {
		t.Errorf("-version: %v %q", err, out)
	}
	// A bad file at start-up: exit 1 with the errors.
	out, err = exec.Command(bin, "-config", bad, "-listen", "127.0.0.1:0").CombinedOutput()
	if exitCode(err) != 1 || !bytes.Contains(out, []byte("colour: unknown key")) {
		t.Errorf("start with bad config: %v\n%s", err, out)
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mirrors.json")
	itest.WriteFile(t, cfg, goodConfig("env"))
	addr := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
	p := itest.Start(t, []string{"DISPATCHER_CONFIG=" + cfg, "DISPATCHER_LISTEN=" + addr}, itest.Binary(t))
	itest.WaitFor(t, 10*time.Second, "dispatcher on "+addr, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	p.Stop()
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
