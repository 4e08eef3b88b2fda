package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestGCPercent runs the binary without GOGC and with it, and reads the
// collector's target from its own /metrics: 400 by default, what GOGC
// says when it is set.
func TestGCPercent(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "mirrors.json")
	itest.WriteFile(t, cfg, goodConfig("gc"))
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{nil, "go_gc_gogc_percent 400\n"},
		{[]string{"GOGC=150"}, "go_gc_gogc_percent 150\n"},
	} {
		addr := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
		env := append([]string{"DISPATCHER_CONFIG=" + cfg, "DISPATCHER_LISTEN=" + addr}, tc.env...)
		p := itest.Start(t, env, itest.Binary(t))
		var metrics string
		itest.WaitFor(t, 10*time.Second, "/metrics on "+addr, func() bool {
			resp, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			metrics = string(b)
			return resp.StatusCode == http.StatusOK
		})
		if !strings.Contains(metrics, tc.want) {
			t.Errorf("env %q: /metrics lacks %q", tc.env, tc.want)
		}
		p.Stop()
	}
}
