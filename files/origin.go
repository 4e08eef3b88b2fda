package files

import (
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
)

// scanOrigin lists the origin into an Index, with hashes when asked (a
// file whose size and mtime did not change keeps its hash). When the
// listing is entry for entry the one of prev, prev itself is returned and
// nothing is built (with hashes, a file whose hash could not be read
// counts as a change, so that it is tried again): an unchanged tree costs its listing and no memory, and
// everything judged against prev stays valid. A local origin's apt
// release files are read for the files they name (release.go).
func (s *Scanner) scanOrigin(ctx context.Context, prev *Index) (*Index, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var b Builder
	var entries []Entry // with hashes: hashed once the listing is done
	add := func(e Entry) {
		if s.hashes {
			entries = append(entries, e)
		} else {
			b.Add(e, nil)
		}
	}
	// same counts the leading entries that match prev; once one differs,
	// they are added and the rest of the listing follows them.
	same, diverged := 0, prev == nil
	diverge := func() {
		diverged = true
		for id := range same {
			add(prev.Entry(id))
		}
	}
	err := s.origin.List(ctx, func(e Entry) error {
		if !diverged {
			if prev.Is(same, e) && (!s.hashes || prev.hashed(same)) {
				same++
				return nil
			}
			diverge()
		}
		add(e)
		return nil
	}, func(err error) { s.log.Warn("origin entry skipped", "err", err.Error()) })
	if err != nil {
		return nil, err
	}
	if !diverged {
		if same == prev.Len() {
			return prev, nil
		}
		diverge() // files removed at the end
	}
	var ix *Index
	if !s.hashes {
		ix = b.Build()
	} else if ix, err = s.hashed(ctx, entries); err != nil {
		return nil, err
	}
	if root, ok := s.origin.(Dir); ok {
		linkReleases(ix, func(p string) ([]byte, error) {
			return os.ReadFile(filepath.Join(string(root), filepath.FromSlash(p)))
		}, func(p string, err error) {
			s.log.Warn("origin release file not read: mirrors get it without its indexes checked", "path", p, "err", err.Error())
		})
	}
	return ix, nil
}

// hashed builds the Index of entries with their SHA-256, reading only the
// files whose size or mtime changed since they were last hashed.
func (s *Scanner) hashed(ctx context.Context, entries []Entry) (*Index, error) {
	var b Builder
	root, _ := s.origin.(Dir)
	s.mu.Lock()
	old := s.sums
	s.mu.Unlock()
	sums := make(map[string]sumEntry, len(entries))
	for _, e := range entries {
		se, ok := old[e.Path]
		if !ok || se.size != e.Size || se.mtime != e.MTime {
			sum, err := hashFile(ctx, filepath.Join(string(root), filepath.FromSlash(e.Path)))
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				s.log.Warn("origin file not hashed", "path", e.Path, "err", err.Error())
				b.Add(e, nil)
				continue
			}
			se = sumEntry{e.Size, e.MTime, sum}
		}
		sums[e.Path] = se
		b.Add(e, &se.sum)
	}
	s.mu.Lock()
	s.sums = sums
	s.mu.Unlock()
	return b.Build(), nil
}

func hashFile(ctx context.Context, path string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 256<<10)
	for {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return sum, err
		}
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}
