package itest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

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
