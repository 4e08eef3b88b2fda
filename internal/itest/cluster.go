package itest

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// RedisCluster starts a Redis Cluster of masters redis-server processes
// (no replicas) on free loopback ports, joins them with
// `redis-cli --cluster create`, waits until every node says the cluster
// is ok, and returns the nodes' addresses. Each node's cluster bus
// listens on its port + 10000, which is checked to be free too.
func RedisCluster(t testing.TB, masters int) []string {
	t.Helper()
	bin := Need(t, "redis-server", "redis-server")
	cli := Need(t, "redis-cli", "redis-tools")
	var addrs []string
	for range masters {
		port := clusterPort(t)
		dir := t.TempDir()
		Start(t, nil, bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--daemonize", "no", "--dir", dir, "--cluster-enabled", "yes", "--cluster-config-file", dir+"/nodes.conf")
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		WaitTCP(t, addr, 10*time.Second)
		addrs = append(addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	WaitFor(t, 30*time.Second, "the cluster to be ok on every node", func() bool {
		for _, a := range addrs {
			host, port, _ := net.SplitHostPort(a)
			out, err := exec.Command(cli, "-h", host, "-p", port, "cluster", "info").Output()
			if err != nil || !strings.Contains(string(out), "cluster_state:ok") {
				return false
			}
		}
		return true
	})
	return addrs
}

// clusterPort returns a free port whose cluster bus port (+10000) is free
// as well.
func clusterPort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if port+10000 > 65535 {
			l.Close()
			continue
		}
		bus, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		l.Close()
		if err != nil {
			continue
		}
		bus.Close()
		return port
	}
	t.Fatal("no free port pair for a cluster node")
	return 0
}
