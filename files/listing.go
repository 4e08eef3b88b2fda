// Package files knows which files a pool's origin has and which of them
// each mirror holds. It reads trees two ways, a local directory walked
// (WalkDir) and an rsync module listed by the real rsync client
// (ParseRsyncList), into an Index: a compact, immutable table of paths,
// sizes and modification times built for a million files.
package files

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Entry is one regular file of a tree: its path relative to the tree's
// root with slashes and no leading slash, its size in bytes and its
// modification time in Unix seconds.
type Entry struct {
	Path  string
	Size  int64
	MTime int64
}

// maxPath bounds a path's length; longer ones are refused as odd.
const maxPath = 4096

// ErrBadPath is wrapped by the errors for paths that are refused: empty,
// absolute, with an empty, "." or ".." segment, a NUL, or too long. No
// such path can enter an Index, so none can climb out of a mirror's tree.
var ErrBadPath = errors.New("path refused")

// CheckPath returns p if it is a clean relative path, else an error
// wrapping ErrBadPath.
func CheckPath(p string) error {
	if p == "" || len(p) > maxPath || p[0] == '/' || strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("%w: %q", ErrBadPath, truncate(p))
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q", ErrBadPath, truncate(p))
		}
	}
	return nil
}

func truncate(p string) string {
	if len(p) > 200 {
		return p[:200] + "…"
	}
	return p
}

// ListingError is a line of a listing that could not be used. Parsing goes
// on after it: one odd name must not hide a tree.
type ListingError struct {
	Line int
	Err  error
}

func (e *ListingError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *ListingError) Unwrap() error { return e.Err }

// ParseRsyncList reads the output of `rsync --list-only -r` and calls fn
// for each regular file, with times read in loc (rsync prints them in the
// local time of the machine that runs it; nil means time.Local).
// Directories, symlinks and other special files are skipped. rsync's
// \#ooo escapes of unprintable bytes are undone. A line that does not
// parse, or names a refused path (CheckPath), is reported to bad, when
// not nil, and skipped. An error from fn or from reading stops the parse.
func ParseRsyncList(r io.Reader, loc *time.Location, fn func(Entry) error, bad func(*ListingError)) error {
	if loc == nil {
		loc = time.Local
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 2*maxPath+256)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '-' {
			continue // directories (d), symlinks (l), devices, blank lines
		}
		e, err := parseRsyncLine(line, loc)
		if err == nil {
			err = CheckPath(e.Path)
		}
		if err != nil {
			if bad != nil {
				bad(&ListingError{Line: n, Err: err})
			}
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return sc.Err()
}

// parseRsyncLine parses "-rw-r--r--      1,234,567 2026/11/22 10:00:00 a/b c".
func parseRsyncLine(line []byte, loc *time.Location) (Entry, error) {
	var f [4][]byte
	rest := line
	for i := range f {
		rest = bytes.TrimLeft(rest, " ")
		sp := bytes.IndexByte(rest, ' ')
		if sp < 0 {
			return Entry{}, errors.New("not an rsync listing line")
		}
		f[i], rest = rest[:sp], rest[sp+1:]
	}
	size, err := parseSize(f[1])
	if err != nil {
		return Entry{}, err
	}
	mt, err := parseTime(f[2], f[3], loc)
	if err != nil {
		return Entry{}, err
	}
	name, err := unescape(rest)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Path: name, Size: size, MTime: mt}, nil
}

// parseSize reads a size with or without thousands separators (rsync 3.1+
// prints 1,234,567; with --no-human-readable, 1234567).
func parseSize(b []byte) (int64, error) {
	var n int64
	digits := 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if n > (1<<62)/10 {
				return 0, errors.New("size out of range")
			}
			n = n*10 + int64(c-'0')
			digits++
		case c == ',' || c == '.':
		default:
			return 0, fmt.Errorf("bad size %q", b)
		}
	}
	if digits == 0 {
		return 0, fmt.Errorf("bad size %q", b)
	}
	return n, nil
}

// parseTime reads "2026/11/22" "10:00:00" without allocating.
func parseTime(d, t []byte, loc *time.Location) (int64, error) {
	if len(d) != 10 || len(t) != 8 || d[4] != '/' || d[7] != '/' || t[2] != ':' || t[5] != ':' {
		return 0, fmt.Errorf("bad time %q %q", d, t)
	}
	num := func(b []byte) int {
		v := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	y, mo, da := num(d[:4]), num(d[5:7]), num(d[8:])
	h, mi, s := num(t[:2]), num(t[3:5]), num(t[6:])
	if y < 0 || mo < 1 || mo > 12 || da < 1 || da > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60 {
		return 0, fmt.Errorf("bad time %q %q", d, t)
	}
	return time.Date(y, time.Month(mo), da, h, mi, s, 0, loc).Unix(), nil
}

// unescape undoes rsync's \#ooo escapes (three octal digits).
func unescape(b []byte) (string, error) {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b), nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) && b[i+1] == '#' {
			if i+5 > len(b) {
				return "", errors.New("truncated escape")
			}
			v, err := strconv.ParseUint(string(b[i+2:i+5]), 8, 8)
			if err != nil {
				return "", fmt.Errorf("bad escape %q", b[i:i+5])
			}
			out = append(out, byte(v))
			i += 4
			continue
		}
		out = append(out, b[i])
	}
	return string(out), nil
}
