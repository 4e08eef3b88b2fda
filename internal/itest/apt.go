package itest

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// AptPackage is the one package of an AptRepo.
const AptPackage = "hello-dispatcher"

// AptRepo builds signed Debian repositories with the tools Debian's own
// archives are built with: dpkg-deb, apt-ftparchive and gpg, under a key
// of its own (in a GNUPGHOME of the test's).
type AptRepo struct {
	t     testing.TB
	gnupg string
	tools map[string]string
	keyAt string
}

// NewAptRepo makes a signing key. It needs gpg (gnupg), apt-ftparchive
// (apt-utils) and dpkg-deb (dpkg).
func NewAptRepo(t testing.TB) *AptRepo {
	t.Helper()
	r := &AptRepo{t: t, gnupg: t.TempDir(), tools: map[string]string{
		"gpg":            Need(t, "gpg", "gnupg"),
		"apt-ftparchive": Need(t, "apt-ftparchive", "apt-utils"),
		"dpkg-deb":       Need(t, "dpkg-deb", "dpkg"),
		"gzip":           Need(t, "gzip", "gzip"),
	}}
	if err := os.Chmod(r.gnupg, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// gpg started an agent for this GNUPGHOME; stop it.
		cmd := exec.Command("gpgconf", "--kill", "all")
		cmd.Env = append(os.Environ(), "GNUPGHOME="+r.gnupg)
		_ = cmd.Run()
	})
	r.run("", "gpg", "--batch", "--quiet", "--passphrase", "", "--quick-gen-key",
		"dispatcher test archive <archive@example.invalid>", "ed25519", "sign", "never")
	r.keyAt = filepath.Join(t.TempDir(), "archive-key.gpg")
	out := r.run("", "gpg", "--batch", "--export")
	if err := os.WriteFile(r.keyAt, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// Key is the path of the archive's public key, for signed-by.
func (r *AptRepo) Key() string { return r.keyAt }

// run runs one of the tools in dir and returns its standard output.
func (r *AptRepo) run(dir, tool string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command(r.tools[tool], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GNUPGHOME="+r.gnupg)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		r.t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// Release builds, in a new directory it returns, release version of the
// repository (suite stable, component main, amd64): the package's .deb in
// pool/, Packages and Packages.gz, Release and the signed InRelease, each
// file with modification time at, as an archive's publishing run leaves
// them.
func (r *AptRepo) Release(version string, at time.Time) string {
	r.t.Helper()
	work := r.t.TempDir()
	pkg := filepath.Join(work, "pkg")
	WriteTree(r.t, pkg, map[string]string{
		"DEBIAN/control": fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: dispatcher tests <tests@example.invalid>\n"+
			"Description: a package published once per release\n", AptPackage, version),
		"usr/share/doc/" + AptPackage + "/version": version + "\n",
	}, at)
	root := filepath.Join(work, "repo")
	poolDir := filepath.Join(root, "pool", "main", AptPackage[:1], AptPackage)
	index := filepath.Join(root, "dists", "stable", "main", "binary-amd64")
	for _, d := range []string{poolDir, index} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			r.t.Fatal(err)
		}
	}
	r.run("", "dpkg-deb", "--root-owner-group", "-Zgzip", "--build", pkg,
		filepath.Join(poolDir, fmt.Sprintf("%s_%s_all.deb", AptPackage, version)))
	packages := r.run(root, "apt-ftparchive", "packages", "pool")
	if err := os.WriteFile(filepath.Join(index, "Packages"), []byte(packages), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.run(index, "gzip", "-n", "-k", "Packages")
	release := r.run(root, "apt-ftparchive",
		"-o", "APT::FTPArchive::Release::Suite=stable", "-o", "APT::FTPArchive::Release::Codename=stable",
		"-o", "APT::FTPArchive::Release::Architectures=amd64", "-o", "APT::FTPArchive::Release::Components=main",
		"release", "dists/stable")
	dist := filepath.Join(root, "dists", "stable")
	if err := os.WriteFile(filepath.Join(dist, "Release"), []byte(release), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.run(dist, "gpg", "--batch", "--yes", "--clearsign", "-o", "InRelease", "Release")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Chtimes(p, at, at)
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return root
}

// SyncTree makes dst hold exactly the files of src for which keep (given
// the slash path under src) is true, with src's modification times, as
// rsync -a --delete would; keep nil keeps every file. Files are replaced
// by a rename, so a reader never sees half a file.
func SyncTree(t testing.TB, src, dst string, keep func(rel string) bool) {
	t.Helper()
	want := map[string]bool{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if keep != nil && !keep(filepath.ToSlash(rel)) {
			return nil
		}
		want[rel] = true
		return CopyFile(p, filepath.Join(dst, rel))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if rel, _ := filepath.Rel(dst, p); !want[rel] {
			return os.Remove(p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// CopyFile copies src to dst (creating its directory) with src's mode and
// modification time, through a temporary file renamed over dst.
func CopyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp")
	if err := os.WriteFile(tmp, data, fi.Mode().Perm()); err != nil {
		return err
	}
	if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// AptClient runs Debian's apt-get with state, cache, sources and trust of
// its own, so that it reads nothing of the machine's apt setup and needs
// no lock.
type AptClient struct {
	t          testing.TB
	aptGet     string
	dir, dlDir string
	opts       []string
}

// NewAptClient is an apt-get whose only source is sourceLine (a
// sources.list line).
func NewAptClient(t testing.TB, sourceLine string) *AptClient {
	t.Helper()
	c := &AptClient{t: t, aptGet: Need(t, "apt-get", "apt"), dir: t.TempDir()}
	for _, d := range []string{"state/lists/partial", "cache/archives/partial", "sources.list.d", "trusted.gpg.d", "preferences.d", "download"} {
		if err := os.MkdirAll(filepath.Join(c.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	WriteFile(t, filepath.Join(c.dir, "status"), "")
	WriteFile(t, filepath.Join(c.dir, "sources.list"), sourceLine+"\n")
	c.dlDir = filepath.Join(c.dir, "download")
	for _, o := range []string{
		"Dir::State=" + filepath.Join(c.dir, "state"),
		"Dir::State::status=" + filepath.Join(c.dir, "status"),
		"Dir::Cache=" + filepath.Join(c.dir, "cache"),
		"Dir::Etc::sourcelist=" + filepath.Join(c.dir, "sources.list"),
		"Dir::Etc::sourceparts=" + filepath.Join(c.dir, "sources.list.d"),
		"Dir::Etc::trustedparts=" + filepath.Join(c.dir, "trusted.gpg.d"),
		"Dir::Etc::preferencesparts=" + filepath.Join(c.dir, "preferences.d"),
		"APT::Architecture=amd64",
		"APT::Architectures=amd64",
		"Debug::NoLocking=true",
		"APT::Sandbox::User=root",
		"Acquire::Languages=none",
	} {
		c.opts = append(c.opts, "-o", o)
	}
	return c
}

// DownloadDir is where Run("download", …) leaves the packages.
func (c *AptClient) DownloadDir() string { return c.dlDir }

// Run runs apt-get with args in the download directory and returns what
// it printed (standard output and error).
func (c *AptClient) Run(args ...string) (string, error) {
	cmd := exec.Command(c.aptGet, append(append([]string(nil), c.opts...), args...)...)
	cmd.Dir = c.dlDir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	return string(out), err
}
