package config

import (
	"encoding/json"
	"os"
	"testing"
	"unsafe"
)

// TestMirrorStringsPacked checks that each pool's mirror URLs and names
// lie one after the other in one string, in the pool's order, and still
// read as the file says.
func TestMirrorStringsPacked(t *testing.T) {
	cfg, err := Load("testdata/good.json", Overrides{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	raw := struct {
		Pools []struct {
			Mirrors []struct{ Name, URL string }
		}
	}{}
	data, err := os.ReadFile("testdata/good.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	packed := 0
	for i, p := range cfg.Pools {
		if len(p.Mirrors) < 2 {
			continue
		}
		next := unsafe.StringData(p.Mirrors[0].URL)
		for j, m := range p.Mirrors {
			want := raw.Pools[i].Mirrors[j]
			if m.Name != want.Name || m.URL != want.URL {
				t.Errorf("pool %d mirror %d = %q %q; want %q %q", i, j, m.Name, m.URL, want.Name, want.URL)
			}
			if unsafe.StringData(m.URL) != next {
				t.Fatalf("pool %s: the URL of mirror %s does not follow the mirror before it", p.Name, m.Name)
			}
			if unsafe.StringData(m.Name) != (*byte)(unsafe.Add(unsafe.Pointer(next), len(m.URL))) {
				t.Fatalf("pool %s: the name of mirror %s does not follow its URL", p.Name, m.Name)
			}
			next = (*byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(m.Name)), len(m.Name)))
		}
		packed++
	}
	if packed == 0 {
		t.Fatal("testdata/good.json has no pool of two mirrors or more")
	}
}
