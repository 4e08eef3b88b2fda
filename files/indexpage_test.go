package files

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestParseIndexPages reads the index pages of real servers (nginx's
// four forms and lighttpd's, saved from them; Apache's two, as
// mod_autoindex writes them) of one directory: a.iso (6 bytes,
// 2026-11-01 12:00:30 UTC), big.iso (1,500,000 bytes) and sub/.
func TestParseIndexPages(t *testing.T) {
	aTime := time.Date(2026, 11, 1, 12, 0, 30, 0, time.UTC).Unix()
	minute := aTime - 30
	for _, tt := range []struct {
		file, ctype string
		want        string // a.iso's size/unit/time/exact, big.iso's size/unit
	}{
		{"nginx.html", "text/html", fmt.Sprintf("6/1/%d/false 1500000/1", minute)},
		{"nginx-rounded.html", "text/html", fmt.Sprintf("6/1/%d/false 1048576/1048576", minute)},
		{"nginx.json", "application/json", fmt.Sprintf("6/1/%d/true 1500000/1", aTime)},
		{"nginx.xml", "text/xml", fmt.Sprintf("6/1/%d/true 1500000/1", aTime)},
		{"lighttpd.html", "text/html", fmt.Sprintf("102/1024/%d/false 1468006/1048576", aTime)},
		{"apache-table.html", "text/html", fmt.Sprintf("6/1/%d/false 1468006/1048576", minute)},
		{"apache-pre.html", "text/html", fmt.Sprintf("6/1/%d/false 1468006/1048576", minute)},
	} {
		body, err := os.ReadFile(filepath.Join("testdata", "index", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		items, err := parseIndexPage(body, tt.ctype+"; charset=utf-8")
		if err != nil {
			t.Errorf("%s: %v", tt.file, err)
			continue
		}
		var got []string
		var dirs []string
		for _, it := range items {
			switch {
			case it.dir:
				dirs = append(dirs, it.name)
			case it.name == "a.iso":
				got = append(got, fmt.Sprintf("%d/%d/%d/%v", it.size, it.sizeUnit, it.mtime, it.exactTime))
			case it.name == "big.iso":
				got = append(got, fmt.Sprintf("%d/%d", it.size, it.sizeUnit))
			default:
				t.Errorf("%s: an item %q", tt.file, it.name)
			}
		}
		if strings.Join(got, " ") != tt.want || strings.Join(dirs, ",") != "sub" {
			t.Errorf("%s: files %q dirs %q; want %q and sub", tt.file, got, dirs, tt.want)
		}
	}
	if _, err := parseIndexPage([]byte("x"), "image/png"); err == nil {
		t.Error("a PNG read as an index")
	}
}

// TestIndexLinks: only links to files and directories right under the
// page are items: not sort links, the parent, absolute URLs or deeper
// paths; names are decoded.
func TestIndexLinks(t *testing.T) {
	page := `<pre><a href="?C=N;O=D">Name</a> <a href="../">../</a> <a href="/">Parent</a>
<a href="http://elsewhere.example/x.iso">x.iso</a>
<a href="deep/er.iso">deep</a>
<a href="a%20b%26c.iso">a b&amp;c.iso</a>   01-Nov-2026 12:00    6
<a href="./d/">d/</a>   01-Nov-2026 12:00    -
</pre>`
	items, err := parseIndexHTML([]byte(page))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, it := range items {
		names = append(names, fmt.Sprintf("%s/%v/%d", it.name, it.dir, it.size))
	}
	if got := strings.Join(names, " "); got != "a b&c.iso/false/6 d/true/-1" {
		t.Errorf("items %q", got)
	}
}
