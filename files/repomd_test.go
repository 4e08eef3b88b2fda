package files

import (
	"slices"
	"testing"
)

// repomd is a repodata/repomd.xml as createrepo_c writes it, with one
// href that climbs out of the repository.
const repomd = `<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1764700000</revision>
  <data type="primary">
    <checksum type="sha256">9a83e60eafc543822f7571fc238827d6ebdf11517b7e88383aa9451ee45fe2df</checksum>
    <location href="repodata/9a83e6-primary.xml.gz"/>
    <size>16</size>
  </data>
  <data type="filelists">
    <location href="repodata/d833ce-filelists.xml.gz"/>
    <size>18</size>
  </data>
  <data type="other">
    <location href="../../etc/passwd"/>
  </data>
</repomd>
`

func TestRepomdIndexes(t *testing.T) {
	got := repomdIndexes([]byte(repomd))
	if want := []string{"repodata/9a83e6-primary.xml.gz", "repodata/d833ce-filelists.xml.gz"}; !slices.Equal(got, want) {
		t.Errorf("repomdIndexes = %q; want %q", got, want)
	}
	if got := repomdIndexes([]byte("<repomd><data>")); got != nil {
		t.Errorf("a repomd.xml cut short: %q; want nil", got)
	}
}

// TestRepomdCoherence: a mirror holds repodata/repomd.xml (and its
// signature) only when it holds the origin's copy of every metadata file
// it lists; one caught half-way, with the new repomd.xml and an old
// primary, holds neither, and the packages stay its own.
func TestRepomdCoherence(t *testing.T) {
	tree := map[string]string{
		"fedora/43/x86_64/os/repodata/repomd.xml":              repomd,
		"fedora/43/x86_64/os/repodata/repomd.xml.asc":          "signature",
		"fedora/43/x86_64/os/repodata/9a83e6-primary.xml.gz":   "primary metadata",
		"fedora/43/x86_64/os/repodata/d833ce-filelists.xml.gz": "filelists metadata",
		"fedora/43/x86_64/os/Packages/h/hello-2.0.x86_64.rpm":  "rpm",
	}
	s, _ := scanHalfSynced(t, tree, map[string]string{"fedora/43/x86_64/os/repodata/9a83e6-primary.xml.gz": "old primary meta"})
	v := s.View()
	for path, want := range map[string]string{
		"fedora/43/x86_64/os/repodata/repomd.xml":              "full",
		"fedora/43/x86_64/os/repodata/repomd.xml.asc":          "full",
		"fedora/43/x86_64/os/repodata/9a83e6-primary.xml.gz":   "full",
		"fedora/43/x86_64/os/repodata/d833ce-filelists.xml.gz": "full half",
		"fedora/43/x86_64/os/Packages/h/hello-2.0.x86_64.rpm":  "full half",
	} {
		if got := holders(t, v, path); got != want {
			t.Errorf("%s held by %q; want %q", path, got, want)
		}
	}
	id, _ := v.Index.Lookup("fedora/43/x86_64/os/repodata/repomd.xml.asc")
	if got := len(v.Index.Requires(id)); got != 3 {
		t.Errorf("repomd.xml.asc requires %d files; want 3 (repomd.xml and the two it lists)", got)
	}
}
