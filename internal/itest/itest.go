// Package itest starts the real components integration tests use (the
// dispatcher binary, redis-server, snmpsimd) on free loopback ports and
// stops them when the test ends.
//
// A missing program fails the test when CI=true and skips it otherwise,
// with a message that says what to install.
package itest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
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
		out, err := exec.Command("go", "build", "-o", buildPath, moduleRoot()+"/cmd/dispatcher").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Process is a program started by a test.
type Process struct {
	Cmd  *exec.Cmd
	Addr string // host:port it serves on, when known
	mu   sync.Mutex
	out  strings.Builder
}

// Output returns what the process wrote to stdout and stderr so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *Process) collect(r io.Reader) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		p.mu.Lock()
		p.out.WriteString(s.Text() + "\n")
		p.mu.Unlock()
	}
}

// Start runs name with args and stops it (SIGTERM, then SIGKILL) when the
// test ends.
func Start(t testing.TB, env []string, name string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Process{Cmd: cmd}
	go p.collect(stdout)
	go p.collect(stderr)
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

// IfRec returns snmprec lines for one interface of a simulated agent:
// ifName, 64-bit counters growing at outBps and inBps (bits per second, in
// real time), and ifHighSpeed in Mbit/s. Lines of several interfaces and
// SysUpTime must be sorted by OID before use (SNMPRec does).
func IfRec(index int, name string, outBps, inBps float64, speedMbps int) []string {
	i := fmt.Sprint(index)
	return []string{
		"1.3.6.1.2.1.31.1.1.1.1." + i + "|4|" + name,
		fmt.Sprintf("1.3.6.1.2.1.31.1.1.1.6.%s|70:numeric|rate=%.0f,initial=0", i, inBps/8),
		fmt.Sprintf("1.3.6.1.2.1.31.1.1.1.10.%s|70:numeric|rate=%.0f,initial=0", i, outBps/8),
		fmt.Sprintf("1.3.6.1.2.1.31.1.1.1.15.%s|66|%d", i, speedMbps),
	}
}

// SNMPRec joins snmprec lines with a growing sysUpTime, sorted by OID as
// snmpsimd needs them for walks.
func SNMPRec(lines ...[]string) string {
	all := []string{"1.3.6.1.2.1.1.3.0|67:numeric|rate=100,initial=1000"}
	for _, l := range lines {
		all = append(all, l...)
	}
	sort.Slice(all, func(a, b int) bool {
		return oidLess(all[a][:strings.IndexByte(all[a], '|')], all[b][:strings.IndexByte(all[b], '|')])
	})
	return strings.Join(all, "\n") + "\n"
}

func oidLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}

// SNMPSim starts snmpsimd on 127.0.0.1 (port 0: a free one) serving files,
// community (or SNMPv3 context) name → .snmprec content, with extra
// snmpsimd arguments, and waits until it answers over SNMPv2c.
//
// snmpsimd run as root switches to nobody before it reads its data and
// cache directories, so both are made outside the test's private temp dir
// and readable (the cache writable) by everyone.
func SNMPSim(t testing.TB, port int, files map[string]string, extra ...string) *Process {
	t.Helper()
	bin := Need(t, "snmpsimd", "snmpsim")
	if port == 0 {
		port = FreeUDPPort(t)
	}
	dir, err := os.MkdirTemp("", "snmpsim-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data, cache := filepath.Join(dir, "data"), filepath.Join(dir, "cache")
	for _, d := range []string{data, cache} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{dir, data, cache} {
		os.Chmod(d, 0o777)
	}
	for community, content := range files {
		if err := os.WriteFile(filepath.Join(data, community+".snmprec"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"--data-dir=" + data, "--cache-dir=" + cache,
		fmt.Sprintf("--agent-udpv4-endpoint=127.0.0.1:%d", port)}
	if os.Geteuid() == 0 {
		args = append(args, "--process-user=nobody", "--process-group=nogroup")
	}
	args = append(args, extra...)
	p := Start(t, nil, bin, args...)
	p.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	var community string
	for c := range files {
		community = c
		break
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		g := &gosnmp.GoSNMP{Target: "127.0.0.1", Port: uint16(port), Community: community,
			Version: gosnmp.Version2c, Timeout: 300 * time.Millisecond, Retries: 0}
		if err := g.Connect(); err == nil {
			_, err := g.Get([]string{"1.3.6.1.2.1.1.3.0"})
			g.Conn.Close()
			if err == nil {
				return p
			}
		}
		if p.Cmd.ProcessState != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("snmpsimd did not answer on %s:\n%s", p.Addr, p.Output())
	return nil
}

// SilentUDP reads UDP datagrams on a loopback port and never answers: an
// SNMP agent that hangs. It returns the address.
func SilentUDP(t testing.TB) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().String()
}

// GeoEntry is one network of a test geo database.
type GeoEntry struct {
	Network   string // CIDR
	Country   string
	Continent string   // GeoIP2 schema only
	Lat, Lon  *float64 // GeoIP2 schema only; nil for a country-level record
}

// WriteMMDB writes a MaxMind database of entries to a file in the test's
// temp dir: in the GeoIP2-City schema (country.iso_code, continent.code,
// location) when flat is false, else in the flat country_code schema of
// the free ip-location-db databases.
func WriteMMDB(t testing.TB, flat bool, entries ...GeoEntry) string {
	t.Helper()
	dbType := "GeoIP2-City"
	if flat {
		dbType = "geo-whois-asn-country"
	}
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 28, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		_, network, err := net.ParseCIDR(e.Network)
		if err != nil {
			t.Fatal(err)
		}
		var rec mmdbtype.Map
		if flat {
			rec = mmdbtype.Map{"country_code": mmdbtype.String(e.Country)}
		} else {
			rec = mmdbtype.Map{
				"country":   mmdbtype.Map{"iso_code": mmdbtype.String(e.Country)},
				"continent": mmdbtype.Map{"code": mmdbtype.String(e.Continent)},
			}
			if e.Lat != nil {
				rec["location"] = mmdbtype.Map{"latitude": mmdbtype.Float64(*e.Lat), "longitude": mmdbtype.Float64(*e.Lon)}
			}
		}
		if err := tree.Insert(network, rec); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), dbType+".mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	return path
}

// Chromium renders url in headless Chromium after letting its scripts run
// for budget, and returns the DOM as HTML. With png set it also writes a
// screenshot there.
func Chromium(t testing.TB, url string, budget time.Duration, png string) string {
	t.Helper()
	bin := Need(t, "chromium", "chromium")
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), fmt.Sprintf("--virtual-time-budget=%d", budget.Milliseconds())}
	if png != "" {
		shot := exec.Command(bin, append(args, "--window-size=1400,900", "--screenshot="+png, url)...)
		if out, err := shot.CombinedOutput(); err != nil {
			t.Fatalf("chromium screenshot: %v\n%s", err, out)
		}
	}
	cmd := exec.Command(bin, append(args, "--dump-dom", url)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return string(out)
}
