package files

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/internal/itest"
)

// day is the origin's mtime of the suite files.
var day = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// inRelease is an InRelease as apt-ftparchive and gpg --clearsign write
// it, with a dash-escaped line, a name listed in several checksum fields,
// one the origin lacks and one that climbs out of the suite.
const inRelease = `-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA256

Codename: stable
Date: Wed, 02 Dec 2026 17:18:09 +0000
Description: a line
- -- dash-escaped, not a field
MD5Sum:
 fda49506637edd2d84dcb0d14362b9d8              486 main/binary-amd64/Packages
 42ac86905a1bc36bac340761098d64b4              362 main/binary-amd64/Packages.gz
SHA256:
 d833ce10ac7965d1b238b9648565e5704d8eb37492685c1c7d62f3d37ce76754              486 main/binary-amd64/Packages
 9a83e60eafc543822f7571fc238827d6ebdf11517b7e88383aa9451ee45fe2df              362 main/binary-amd64/Packages.gz
 9a83e60eafc543822f7571fc238827d6ebdf11517b7e88383aa9451ee45fe2df              362 main/i18n/Translation-en.bz2
 9a83e60eafc543822f7571fc238827d6ebdf11517b7e88383aa9451ee45fe2df              362 ../../../etc/passwd
-----BEGIN PGP SIGNATURE-----

iHUEARYIAB0WIQQ7uo8vHj9wY6iUtIPKnCAiIWmv7gUCaxBS0QAKCRDKnCAiIWmv
 9a83e60eafc543822f7571fc238827d6ebdf11517b7e88383aa9451ee45fe2df              362 main/not-signed
-----END PGP SIGNATURE-----
`

func TestReleaseIndexes(t *testing.T) {
	got := releaseIndexes([]byte(inRelease))
	want := []string{"main/binary-amd64/Packages", "main/binary-amd64/Packages.gz", "main/i18n/Translation-en.bz2"}
	if !slices.Equal(got, want) {
		t.Errorf("releaseIndexes = %q; want %q", got, want)
	}
	plain := strings.SplitN(inRelease, "\n\n", 2)[1] // a Release: no armour
	plain = plain[:strings.Index(plain, "-----BEGIN PGP SIGNATURE")]
	if got := releaseIndexes([]byte(plain)); !slices.Equal(got, want) {
		t.Errorf("releaseIndexes of a Release = %q; want %q", got, want)
	}
	if got := releaseIndexes([]byte("Codename: x\nSHA256:\n- \n")); len(got) != 0 {
		t.Errorf("releaseIndexes of no sums = %q", got)
	}
}

// suiteFiles is a suite of an apt repository as the origin has it.
var suiteFiles = map[string]string{
	"debian/dists/stable/InRelease":                          inRelease,
	"debian/dists/stable/Release":                            strings.Split(strings.SplitN(inRelease, "\n\n", 2)[1], "-----BEGIN PGP SIGNATURE")[0],
	"debian/dists/stable/Release.gpg":                        "signature",
	"debian/dists/stable/main/binary-amd64/Packages":         "new Packages",
	"debian/dists/stable/main/binary-amd64/Packages.gz":      "new Packages.gz",
	"debian/pool/main/h/hello/hello_2.0_all.deb":             "deb",
	"debian/dists/stable/main/binary-amd64/Release":          "Archive: stable\n", // names nothing
	"debian/dists/stable/main/binary-amd64/by-hash/SHA256/x": "unrelated",
}

// scanHalfSynced scans an origin holding tree and two mirrors of it:
// full, a copy, and half, a copy with the files of stale at older
// versions (a sync caught half-way). It returns the scanner, after one
// scan with a View, and half's directory.
func scanHalfSynced(t *testing.T, tree, stale map[string]string) (*Scanner, string) {
	t.Helper()
	origin, full, half := t.TempDir(), t.TempDir(), t.TempDir()
	itest.WriteTree(t, origin, tree, day)
	itest.WriteTree(t, full, tree, day)
	itest.WriteTree(t, half, tree, day)
	itest.WriteTree(t, half, stale, day.Add(-6*time.Hour))
	s := NewScanner(ScannerOptions{Pool: "p", Origin: Dir(origin), Timeout: 30 * time.Second,
		Mirrors: []ScanMirror{{Name: "full", Source: Dir(full)}, {Name: "half", Source: Dir(half)}}})
	s.Scan(context.Background())
	if s.View() == nil {
		t.Fatal("no view after a scan")
	}
	return s, half
}

// TestReleaseCoherence scans an origin holding an apt suite and judges
// rsync listings of it: a mirror holds InRelease, Release and Release.gpg
// only when it holds the origin's copy of every index they name; one
// caught half-way (new InRelease, old Packages.gz) holds none of the
// three, and they count as outdated. A follower adopting the leader's
// View keeps the rule.
func TestReleaseCoherence(t *testing.T) {
	s, half := scanHalfSynced(t, suiteFiles, map[string]string{"debian/dists/stable/main/binary-amd64/Packages.gz": "old Packages.g"})
	v := s.View()
	for path, want := range map[string]string{
		"debian/dists/stable/InRelease":                     "full",
		"debian/dists/stable/Release":                       "full",
		"debian/dists/stable/Release.gpg":                   "full",
		"debian/dists/stable/main/binary-amd64/Packages":    "full half",
		"debian/dists/stable/main/binary-amd64/Packages.gz": "full",
		"debian/dists/stable/main/binary-amd64/Release":     "full half",
		"debian/pool/main/h/hello/hello_2.0_all.deb":        "full half",
	} {
		if got := holders(t, v, path); got != want {
			t.Errorf("%s held by %q; want %q", path, got, want)
		}
	}
	if _, ms := s.Status(); ms["half"].Stats != (Stats{Held: 4, Outdated: 4}) {
		t.Errorf("half's stats %+v; want 4 held, 4 outdated (Packages.gz and the three release files)", ms["half"].Stats)
	}
	id, _ := v.Index.Lookup("debian/dists/stable/InRelease")
	var names []string
	for _, r := range v.Index.Requires(id) {
		names = append(names, r.Path)
	}
	if want := []string{"debian/dists/stable/main/binary-amd64/Packages", "debian/dists/stable/main/binary-amd64/Packages.gz"}; !slices.Equal(names, want) {
		t.Errorf("InRelease requires %q; want %q", names, want)
	}

	adopted, err := shareView(v, time.Now()).adopt()
	if err != nil {
		t.Fatal(err)
	}
	id, _ = adopted.Index.Lookup("debian/dists/stable/Release.gpg")
	if got := len(adopted.Index.Requires(id)); got != 3 {
		t.Errorf("an adopted Release.gpg requires %d files; want 3 (Release and the two indexes)", got)
	}
	// The half-synced mirror, judged against the adopted origin, still
	// lacks the release files.
	h, err := Judge(adopted.Index, func(fn func(Entry) error) error {
		return Dir(half).List(context.Background(), fn, func(error) {})
	})
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := adopted.Index.Lookup("debian/dists/stable/InRelease"); h.Has(id) {
		t.Error("judged against an adopted View, the half-synced mirror holds InRelease")
	}
}
