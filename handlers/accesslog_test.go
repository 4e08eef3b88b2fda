package handlers_test

import (
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/server"
)

// accessLine is what the access log is told of one request.
type accessLine struct {
	end          time.Time
	took         time.Duration
	method, path string
	status       int
	client       netip.Addr
	mirror       string
}

// recordedLog is an AccessLog that keeps its lines.
type recordedLog struct {
	mu    sync.Mutex
	lines []accessLine
}

func (l *recordedLog) Request(end time.Time, took time.Duration, method, path string, status int, client netip.Addr, mirror string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, accessLine{end, took, method, path, status, client, mirror})
}

// TestAccessLogTimes: a redirect and an operator request are each logged
// once, with the time they ended on the wall clock and how long they
// took, both within what the test saw around them.
func TestAccessLogTimes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mirrors.json")
	if err := os.WriteFile(path, []byte(testConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	var log recordedLog
	srv, err := server.New(server.Options{ConfigPath: path, AccessLog: &log})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		target, mirror string
		status         int
	}{
		{"/ad/top", "banner", http.StatusFound},
		{"/api/status", "", http.StatusOK},
	} {
		log.lines = nil
		before := time.Now()
		w := do(srv, "GET", tt.target, "192.0.2.9:1234", nil)
		after := time.Now()
		if w.Code != tt.status {
			t.Fatalf("%s: status %d; want %d", tt.target, w.Code, tt.status)
		}
		if len(log.lines) != 1 {
			t.Fatalf("%s: %d access-log lines; want 1", tt.target, len(log.lines))
		}
		l := log.lines[0]
		if l.method != "GET" || l.path != tt.target || l.status != tt.status || l.client != netip.MustParseAddr("192.0.2.9") || l.mirror != tt.mirror {
			t.Errorf("%s: logged %+v", tt.target, l)
		}
		// The wall clock alone (Round(0)), a millisecond allowed for the
		// slew between it and the monotonic clock.
		end, lo, hi := l.end.Round(0), before.Round(0).Add(-time.Millisecond), after.Round(0).Add(time.Millisecond)
		if end.Before(lo) || end.After(hi) {
			t.Errorf("%s: logged as ended at %v; the request ran from %v to %v", tt.target, end, before, after)
		}
		if l.took < 0 || l.took > after.Sub(before) {
			t.Errorf("%s: logged as taking %v; the request took at most %v", tt.target, l.took, after.Sub(before))
		}
	}
}
