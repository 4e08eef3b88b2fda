package itest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// RsyncDaemon starts `rsync --daemon` on a free loopback port serving
// modules (name → directory), read-only and without chroot, and returns
// its address. It runs as the test's own user, so that it reads what the
// test wrote (as root it would switch to nobody by default).
func RsyncDaemon(t testing.TB, modules map[string]string) string {
	t.Helper()
	bin := Need(t, "rsync", "rsync")
	dir := t.TempDir()
	var conf strings.Builder
	fmt.Fprintf(&conf, "use chroot = no\nuid = %d\ngid = %d\npid file = %s\n", os.Getuid(), os.Getgid(), filepath.Join(dir, "rsyncd.pid"))
	names := make([]string, 0, len(modules))
	for name := range modules {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&conf, "[%s]\npath = %s\nread only = yes\n", name, modules[name])
	}
	cfg := filepath.Join(dir, "rsyncd.conf")
	if err := os.WriteFile(cfg, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	Start(t, nil, bin, "--daemon", "--no-detach", "--config="+cfg, fmt.Sprintf("--port=%d", port), "--address=127.0.0.1")
	WaitTCP(t, addr, 10*time.Second)
	return addr
}
