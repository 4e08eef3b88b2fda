package files

import (
	"fmt"
	"io/fs"
	"path/filepath"
)

// WalkDir lists the regular files under root and calls fn for each, in
// lexical order. Symlinks are not followed (a link could lead out of the
// tree) and special files are skipped. A subdirectory that cannot be read
// is reported to bad, when not nil, and skipped; a root that cannot be
// read is an error.
func WalkDir(root string, fn func(Entry) error, bad func(path string, err error)) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return fmt.Errorf("origin %s: %w", root, err)
			}
			if bad != nil {
				bad(p, err)
			}
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if err := CheckPath(rel); err != nil {
			if bad != nil {
				bad(p, err)
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if bad != nil {
				bad(p, err)
			}
			return nil
		}
		return fn(Entry{Path: rel, Size: info.Size(), MTime: info.ModTime().Unix()})
	})
}
