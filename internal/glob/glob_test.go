package glob

import "testing"

func TestMatch(t *testing.T) {
	for _, tt := range []struct {
		pattern, name string
		want          bool
	}{
		{"**/InRelease", "InRelease", true},
		{"**/InRelease", "debian/dists/stable/InRelease", true},
		{"**/InRelease", "debian/dists/stable/InRelease.gpg", false},
		{"**/repodata/repomd.xml", "fedora/43/x86_64/os/repodata/repomd.xml", true},
		{"**/repodata/*", "fedora/os/repodata/abc-primary.xml.gz", true},
		{"**/repodata/*", "fedora/os/repodata/sub/x", false},
		{"debian/**/Packages*", "debian/dists/stable/main/binary-amd64/Packages.xz", true},
		{"debian/**/Packages*", "ubuntu/dists/stable/main/binary-amd64/Packages.xz", false},
		{"*.iso", "a.iso", true},
		{"*.iso", "pub/a.iso", false},
		{"pub/**", "pub/a/b/c", true},
		{"pub/**", "pub", true},
		{"**", "anything/at/all", true},
	} {
		p, err := Compile(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Match(tt.name); got != tt.want {
			t.Errorf("%q matches %q: %v; want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestCompileRefuses(t *testing.T) {
	for _, p := range []string{"", "/abs/path", "a**/b", "[unclosed"} {
		if _, err := Compile(p); err == nil {
			t.Errorf("Compile(%q) succeeded", p)
		}
	}
}
