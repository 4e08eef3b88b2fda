package files

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"math/bits"
	"path"
	"strings"

	"github.com/dispatcher/dispatcher/internal/bitmask"
)

// Repository indexes that stay coherent. An apt repository's release file
// (dists/SUITE/InRelease, Release and its signature Release.gpg) names the
// index files of its suite with their sizes and hashes, and apt fetches
// those indexes from the mirror that gave it the release file
// (Acquire::SameMirrorForAllIndexes, on by default): a mirror with the new
// InRelease and the old Packages — a plain rsync half-way through, since
// "InRelease" sorts before "main/" — fails apt with "Hash Sum mismatch".
// So a mirror holds a release file only when it also holds the origin's
// copy of every file the release file names; the origin's release files
// are read at each origin scan that changes them. A yum/dnf repository's
// repodata/repomd.xml (with its signature repomd.xml.asc) is a release
// file too: dnf fetches the metadata it lists (primary, filelists, …)
// from the mirror that gave it repomd.xml.

// Required is an origin file a release file names, as the origin has it.
type Required struct {
	Path    string
	Version Version
}

// releaseFile reports whether base is the name of a release file: apt's,
// or a yum/dnf repomd.xml and its signature.
func releaseFile(base string) bool {
	switch base {
	case "InRelease", "Release", "Release.gpg", "repomd.xml", "repomd.xml.asc":
		return true
	}
	return false
}

// signatureOf returns the release file a detached signature signs
// ("Release.gpg": "Release"), "" for any other file.
func signatureOf(base string) string {
	switch base {
	case "Release.gpg":
		return "Release"
	case "repomd.xml.asc":
		return "repomd.xml"
	}
	return ""
}

// repomdIndexes returns the paths, relative to the repository's root
// (the directory holding repodata/), of the metadata files a repomd.xml
// lists in its data elements' location href, each once; nil when the
// file does not parse.
func repomdIndexes(data []byte) []string {
	var doc struct {
		Data []struct {
			Location struct {
				Href string `xml:"href,attr"`
			} `xml:"location"`
		} `xml:"data"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return nil
	}
	var names []string
	seen := map[string]bool{}
	for _, d := range doc.Data {
		name := path.Clean(d.Location.Href)
		if d.Location.Href == "" || name == "." || strings.HasPrefix(name, "../") || path.IsAbs(name) || seen[name] {
			continue
		}
		seen[name] = true
		names = append(names, name)
	}
	return names
}

// releaseIndexes returns the paths, relative to its directory, of the
// files a Release or InRelease file names in its checksum fields (MD5Sum,
// SHA1, SHA256, SHA512), each once. An InRelease's OpenPGP armour is
// skipped: its signature is apt's to check.
func releaseIndexes(data []byte) []string {
	var names []string
	seen := map[string]bool{}
	inSums := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----BEGIN PGP SIGNATURE") {
			break
		}
		if line == "" || strings.HasPrefix(line, "-----BEGIN PGP SIGNED MESSAGE") || strings.HasPrefix(line, "Hash:") && !inSums {
			continue
		}
		line = strings.TrimPrefix(line, "- ") // dash-escaped (RFC 4880, 7.1)
		if line == "" {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			field, _, _ := strings.Cut(line, ":")
			switch field {
			case "MD5Sum", "SHA1", "SHA256", "SHA512":
				inSums = true
			default:
				inSums = false
			}
			continue
		}
		if !inSums {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		name := path.Clean(f[2])
		if name == "." || strings.HasPrefix(name, "../") || path.IsAbs(name) || seen[name] {
			continue
		}
		seen[name] = true
		names = append(names, name)
	}
	return names
}

// linkReleases records in ix, for every release file, the origin files it
// names (the ones the origin has); read returns an origin file's content
// (an error leaves that release file without requirements, and is passed
// to warn). A Release.gpg requires its Release and what that names, a
// repomd.xml.asc its repomd.xml and what that lists.
func linkReleases(ix *Index, read func(path string) ([]byte, error), warn func(path string, err error)) {
	var signatures []int
	for id := range ix.Len() {
		base := ix.base(id)
		if !releaseFile(base) {
			continue
		}
		if signatureOf(base) != "" {
			signatures = append(signatures, id)
			continue
		}
		p := ix.Path(id)
		data, err := read(p)
		if err != nil {
			warn(p, err)
			continue
		}
		// apt names indexes from the suite's directory, repomd.xml from
		// the repository's root, the parent of repodata/.
		dir, names := path.Dir(p), releaseIndexes(data)
		if base == "repomd.xml" {
			dir, names = path.Dir(dir), repomdIndexes(data)
		}
		for _, name := range names {
			if req, ok := ix.Lookup(path.Join(dir, name)); ok && req != id {
				ix.require(id, req)
			}
		}
	}
	for _, id := range signatures {
		rel, ok := ix.Lookup(path.Join(path.Dir(ix.Path(id)), signatureOf(ix.base(id))))
		if !ok {
			continue
		}
		ix.require(id, rel)
		for _, req := range ix.requires[rel] {
			ix.require(id, req)
		}
	}
}

// require records that release file id names origin file req.
func (ix *Index) require(id, req int) {
	if ix.requires == nil {
		ix.requires = map[int][]int{}
		ix.required = map[int][]Required{}
	}
	ix.requires[id] = append(ix.requires[id], req)
	ix.required[id] = append(ix.required[id], Required{Path: ix.Path(req), Version: ix.Version(req)})
}

// Requires returns the origin files release file id names (nil for any
// other file). It must not be modified.
func (ix *Index) Requires(id int) []Required { return ix.required[id] }

// cohere takes out of h the release files whose named files h does not
// all hold: they count as outdated.
func (ix *Index) cohere(h *Holdings) {
	for id, reqs := range ix.requires {
		if !h.Has(id) {
			continue
		}
		for _, req := range reqs {
			if !h.Has(req) {
				h.bits[id/64] &^= 1 << (id % 64)
				h.Stats.Held--
				h.Stats.Outdated++
				break
			}
		}
	}
}

// cohereRows is cohere for every mirror of v at once, v's files numbered
// as ix: a release file's row keeps a mirror only where the rows of the
// files it names all have it, apart from the mirrors assumed to hold
// every file (assumed). It returns, per mirror, the release files taken
// out (they count as outdated).
func (ix *Index) cohereRows(v *View, assumed []uint64) []int {
	outdated := make([]int, len(v.Mirrors))
	if len(ix.requires) == 0 {
		return outdated
	}
	keep := make([]uint64, v.words)
	row := make([]uint64, v.words)
	for id, reqs := range ix.requires {
		for w := range keep {
			keep[w] = ^uint64(0)
		}
		for _, req := range reqs {
			for w, word := range v.rows.row(v.rowOf[req]) {
				keep[w] &= word
			}
		}
		copy(row, v.rows.row(v.rowOf[id]))
		taken := false
		for w := range row {
			out := row[w] &^ (keep[w] | bitmask.Word(assumed, w))
			for x := out; x != 0; x &= x - 1 {
				outdated[64*w+bits.TrailingZeros64(x)]++
			}
			row[w] &^= out
			taken = taken || out != 0
		}
		if taken {
			v.rowOf[id] = v.rows.intern(row)
		}
	}
	return outdated
}
