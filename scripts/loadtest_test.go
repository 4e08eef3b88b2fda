// Package scripts_test runs the shell scripts as an operator would.
package scripts_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestLoadtestShort runs scripts/loadtest.sh in its short mode (one
// second per server, one round, no warm-up, a short ab run) with a scale
// row set of 10 mirrors, with and without the access log: every server
// gets a row with its requests per second and CPU per redirect, against
// bare gin and against bare gin given the same request, a scale row the
// range of its pairs' ratios, ab runs with the asked count, -q leaves the
// logged scale dispatchers out, and a bad option is a usage error.
func TestLoadtestShort(t *testing.T) {
	for _, p := range [][2]string{{"wrk", "wrk"}, {"ab", "apache2-utils"}, {"nginx", "nginx-light"}, {"redis-server", "redis-server"}, {"curl", "curl"}} {
		itest.Need(t, p[0], p[1])
	}
	out, err := exec.Command("./loadtest.sh", "-d", "1", "-r", "1", "-w", "0", "-n", "200", "-c", "4", "-s", "10").CombinedOutput()
	if err != nil {
		t.Fatalf("loadtest.sh: %v\n%s", err, out)
	}
	for _, server := range []string{"nginx", "gin-baseline", "dispatcher-random", "dispatcher-random-nostats", "dispatcher-random-quiet", "dispatcher-roundrobin", "dispatcher-roundrobin-redis",
		"gin-baseline-proxied", "random-10", "roundrobin-10", "iphash-10", "geo-10", "files-10",
		"random-10-quiet", "roundrobin-10-quiet", "iphash-10-quiet", "geo-10-quiet", "files-10-quiet"} {
		if !resultRow(server).Match(out) {
			t.Errorf("no result row for %s:\n%s", server, out)
		}
	}
	// A scale row gives the range of its pairs' ratios, and each pair's
	// ratio is printed as it is measured.
	for _, server := range []string{"random-10", "files-10-quiet"} {
		if !regexp.MustCompile(`(?m)^` + server + ` .* [0-9.]+–[0-9.]+$`).Match(out) {
			t.Errorf("no range of pair ratios in the row of %s:\n%s", server, out)
		}
		if !regexp.MustCompile(`(?m)^  round 1 ` + server + `: [0-9.]+x the CPU a redirect of its pair$`).Match(out) {
			t.Errorf("no pair ratio printed for %s:\n%s", server, out)
		}
	}
	if !regexp.MustCompile(`download statistics: dispatcher-random costs [0-9.]+x the CPU per redirect of dispatcher-random-nostats`).Match(out) {
		t.Errorf("no line on the cost of the download statistics:\n%s", out)
	}
	if !strings.Contains(string(out), "ab -n 200 -c 4 (one run each):") || strings.Contains(string(out), "Socket errors") {
		t.Errorf("ab run or socket errors:\n%s", out)
	}
	// -q: the scale rows without the access log only.
	out, err = exec.Command("./loadtest.sh", "-d", "1", "-r", "1", "-w", "0", "-n", "0", "-c", "4", "-s", "10", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("loadtest.sh -q: %v\n%s", err, out)
	}
	for _, server := range []string{"gin-baseline-proxied", "random-10-quiet", "roundrobin-10-quiet", "iphash-10-quiet", "geo-10-quiet", "files-10-quiet"} {
		if !resultRow(server).Match(out) {
			t.Errorf("-q: no result row for %s:\n%s", server, out)
		}
	}
	if regexp.MustCompile(`(?m)^(random|roundrobin|iphash|geo|files)-10 `).Match(out) {
		t.Errorf("-q: a row of a dispatcher with the access log:\n%s", out)
	}
	out, err = exec.Command("./loadtest.sh", "-w", "soon").CombinedOutput()
	if code := exitCodeOf(err); code != 2 || !strings.Contains(string(out), "usage:") {
		t.Errorf("loadtest.sh -w soon: exit %d; want 2 with the usage\n%s", code, out)
	}
}

// resultRow matches the table row of server: requests per second, CPU
// per redirect, the two ratios, the worst p99, and for a scale row the
// range of its pairs' ratios.
func resultRow(server string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + server + ` +[1-9][0-9]* +[0-9.]+ +[0-9.]+x +[0-9.]+x +[0-9]+( +[0-9.]+–[0-9.]+| *)$`)
}

func exitCodeOf(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
