// Package glob matches slash-separated paths against patterns where each
// segment is a path.Match pattern and "**" matches any number of
// segments, none included: "**/InRelease" matches "InRelease" and
// "debian/dists/stable/InRelease".
package glob

import (
	"fmt"
	"path"
	"strings"
)

// Pattern is a compiled pattern.
type Pattern struct {
	src  string
	segs []string
}

// Compile checks a pattern.
func Compile(p string) (Pattern, error) {
	if p == "" || strings.HasPrefix(p, "/") {
		return Pattern{}, fmt.Errorf("must be a relative path pattern such as \"**/InRelease\", got %q", p)
	}
	segs := strings.Split(p, "/")
	for _, s := range segs {
		if s == "**" {
			continue
		}
		if strings.Contains(s, "**") {
			return Pattern{}, fmt.Errorf("** must be a whole segment, got %q", p)
		}
		if _, err := path.Match(s, ""); err != nil {
			return Pattern{}, fmt.Errorf("bad pattern %q: %v", p, err)
		}
	}
	return Pattern{src: p, segs: segs}, nil
}

// String is the pattern as written.
func (p Pattern) String() string { return p.src }

// Match reports whether name (slash-separated, no leading slash) matches.
func (p Pattern) Match(name string) bool {
	return match(p.segs, strings.Split(name, "/"))
}

func match(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for k := 0; k <= len(name); k++ {
				if match(pat[1:], name[k:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// Any reports whether name matches one of ps.
func Any(ps []Pattern, name string) bool {
	for _, p := range ps {
		if p.Match(name) {
			return true
		}
	}
	return false
}
