package files

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// TestDistrustAndRelist: a distrusted mirror holds nothing known (a last
// resort), and Relist lists it again, alone: not the origin (a file the
// origin gained meanwhile stays unknown until a Scan), not the other
// mirror (its status keeps its last listing's time). A mirror without a
// listing is never distrusted.
func TestDistrustAndRelist(t *testing.T) {
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.Local)
	origin, a, b := t.TempDir(), t.TempDir(), t.TempDir()
	tree := map[string]string{"pub/x.iso": "xxxx", "pub/y.iso": "yy"}
	for _, dir := range []string{origin, a, b} {
		itest.WriteTree(t, dir, tree, day)
	}
	s := NewScanner(ScannerOptions{Pool: "p", Origin: Dir(origin), Timeout: 30 * time.Second,
		Mirrors: []ScanMirror{
			{Name: "a", Source: Rsync{URL: "rsync://" + itest.RsyncDaemon(t, map[string]string{"pub": a}) + "/pub"}},
			{Name: "b", Source: Rsync{URL: "rsync://" + itest.RsyncDaemon(t, map[string]string{"pub": b}) + "/pub"}},
			{Name: "plain"},
		}})
	ctx := context.Background()
	s.Scan(ctx)
	if got := holders(t, s.View(), "pub/x.iso"); got != "a b plain" {
		t.Fatalf("x.iso held by %q", got)
	}
	_, before := s.Status()

	// a is reinstalled with y.iso only; the origin gains z.iso.
	if err := os.Remove(filepath.Join(a, "pub", "x.iso")); err != nil {
		t.Fatal(err)
	}
	itest.WriteTree(t, origin, map[string]string{"pub/z.iso": "z"}, day)
	if s.Distrust("plain") {
		t.Error("a mirror without a listing was distrusted")
	}
	if !s.Distrust("a") {
		t.Fatal("a was not distrusted")
	}
	if got := holders(t, s.View(), "pub/x.iso"); got != "b plain" {
		t.Errorf("distrusted, before its listing: x.iso held by %q; want b plain", got)
	}
	s.Relist(ctx)
	v := s.View()
	if got := holders(t, v, "pub/y.iso"); got != "a b plain" {
		t.Errorf("after Relist, y.iso held by %q; want a b plain", got)
	}
	if got := holders(t, v, "pub/x.iso"); got != "b plain" {
		t.Errorf("after Relist, x.iso held by %q; want b plain", got)
	}
	if _, ok := v.Index.Lookup("pub/z.iso"); ok {
		t.Error("Relist listed the origin")
	}
	_, after := s.Status()
	if !after["b"].LastScan.Equal(before["b"].LastScan) || after["a"].LastScan.Equal(before["a"].LastScan) || after["a"].Err != "" {
		t.Errorf("b listed %v → %v, a %v → %v (%q): only a is listed again", before["b"].LastScan, after["b"].LastScan, before["a"].LastScan, after["a"].LastScan, after["a"].Err)
	}
}
