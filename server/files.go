package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"time"

	"github.com/dispatcher/dispatcher/config"
	"github.com/dispatcher/dispatcher/files"
	"github.com/dispatcher/dispatcher/files/verify"
	"github.com/dispatcher/dispatcher/store"
)

// poolScanner is the file scanner of a file-aware pool, kept across
// reloads while its key (the files block and the mirrors' names, URLs and
// rsync URLs, in order) stays the same. When it changes, the new scanner
// and verifier start from what the old ones knew (files.ScannerOptions.Seed,
// verify.VerifierOptions.Seed), so a reload never routes unaware.
type poolScanner struct {
	key    string
	scan   *files.Scanner
	verify *verify.Verifier // nil without files.verify
	spec   string
	stop   func() // nil until started
	// relists counts the returns of mirrors not listed again yet (relist).
	relists atomic.Int32
}

// scannerKey identifies what a pool's scanner depends on.
func scannerKey(p *config.Pool) string {
	type mirror struct{ Name, URL, Rsync, Scan string }
	ms := make([]mirror, len(p.Mirrors))
	for i, m := range p.Mirrors {
		ms[i] = mirror{m.Name, m.URL, m.Rsync, m.Scan}
	}
	b, _ := json.Marshal(struct {
		Files   *config.Files
		Mirrors []mirror
	}{p.Files, ms})
	return string(b)
}

// syncScanners makes the scanners match cfg: new ones for new or changed
// file-aware pools (started at once when the server runs), the old ones
// of changed or removed pools stopped. Callers hold s.mu.
func (s *Server) syncScanners(cfg *config.Config) {
	keep := map[string]bool{}
	for i := range cfg.Pools {
		p := &cfg.Pools[i]
		if p.Files == nil {
			continue
		}
		keep[p.Name] = true
		key := scannerKey(p)
		old := s.scanners[p.Name]
		if old != nil && old.key == key {
			continue
		}
		if old != nil && old.stop != nil {
			old.stop()
		}
		var seedScan *files.Scanner
		var seedVerify *verify.Verifier
		if old != nil {
			seedScan, seedVerify = old.scan, old.verify
		}
		ps := &poolScanner{key: key, spec: p.Files.Schedule, scan: s.newScanner(p, seedScan)}
		if p.Files.Verify {
			ps.verify = s.newVerifier(p, ps.scan, seedVerify)
		}
		s.scanners[p.Name] = ps
		if s.runCtx != nil {
			s.startScanner(ps)
		}
	}
	for name, ps := range s.scanners {
		if !keep[name] {
			if ps.stop != nil {
				ps.stop()
			}
			delete(s.scanners, name)
		}
	}
}

// newScanner builds the scanner of a file-aware pool, from what seed (the
// scanner it replaces, or nil) knew. With Redis, the instance holding the
// feedback lease scans and publishes; the others adopt its results.
func (s *Server) newScanner(p *config.Pool, seed *files.Scanner) *files.Scanner {
	var origin files.Source = files.Dir(p.Files.Origin)
	if p.Files.OriginIsRsync() {
		origin = files.Rsync{URL: p.Files.Origin}
	}
	ms := make([]files.ScanMirror, len(p.Mirrors))
	for i, m := range p.Mirrors {
		ms[i].Name = m.Name
		switch {
		case m.Scan == config.ScanHTTP:
			ms[i].Source = &files.HTTPIndex{URL: m.URL, Rate: p.Files.HTTPRate}
		case m.Rsync != "":
			ms[i].Source = files.Rsync{URL: m.Rsync}
		}
	}
	o := files.ScannerOptions{Pool: p.Name, Origin: origin, Mirrors: ms, Hashes: p.Files.Hashes,
		Timeout: time.Duration(p.Files.Timeout), Log: s.log, Seed: seed, OnChange: s.kickPrepare}
	if s.store != nil {
		o.Leader, o.Share = s.monitor.Lead, store.FileResults{Store: s.store}
	}
	return files.NewScanner(o)
}

// newVerifier builds the file checks of a pool with verify, from what seed
// (the verifier it replaces, or nil) knew of the mirrors whose URL did not
// change. With Redis, the instance holding the feedback lease checks the
// files requested of every instance, and the others adopt its verdicts.
func (s *Server) newVerifier(p *config.Pool, scan *files.Scanner, seed *verify.Verifier) *verify.Verifier {
	o := verify.VerifierOptions{Log: s.log.With("component", "files", "pool", p.Name), Seed: seed}
	for _, m := range p.Mirrors {
		o.Mirrors = append(o.Mirrors, struct{ Name, URL string }{m.Name, m.URL})
	}
	if s.store != nil {
		o.Leader, o.Share = s.monitor.Lead, verifyShare{s.store, p.Name}
		o.Lookup = scan.Check
	}
	return verify.NewVerifier(o)
}

// startScanner runs a scanner on its schedule, and its verifier, until
// the server stops. Callers hold s.mu.
func (s *Server) startScanner(ps *poolScanner) {
	ctx, cancel := context.WithCancel(s.runCtx)
	stop, err := ps.scan.Run(ctx, ps.spec)
	if err != nil { // the schedule was checked with the configuration
		cancel()
		s.log.Error("files scanner not started", "err", err.Error())
		return
	}
	if ps.verify != nil {
		go ps.verify.Run(ctx)
	}
	ps.stop = func() { stop(); cancel() }
}

// checkFiles is the part of Check for file-aware pools: a directory origin
// exists, and rsync is installed when anything is listed with it.
func checkFiles(cfg *config.Config, add func(path, msg string)) {
	needRsync := ""
	for i := range cfg.Pools {
		p := &cfg.Pools[i]
		if p.Files == nil {
			continue
		}
		path := fmt.Sprintf("pools[%d].files", i)
		if p.Files.OriginIsRsync() {
			needRsync = path + ".origin"
		} else if fi, err := os.Stat(p.Files.Origin); err != nil {
			add(path+".origin", "cannot be read: "+err.Error())
		} else if !fi.IsDir() {
			add(path+".origin", "is not a directory: "+p.Files.Origin)
		}
		for j, m := range p.Mirrors {
			if m.Rsync != "" && needRsync == "" {
				needRsync = fmt.Sprintf("pools[%d].mirrors[%d].rsync", i, j)
			}
		}
	}
	if needRsync != "" {
		if _, err := exec.LookPath("rsync"); err != nil {
			add(needRsync, "needs the rsync program, which is not installed (Debian: apt-get install rsync)")
		}
	}
}

// stopScanners stops every scanner. Callers hold s.mu.
func (s *Server) stopScanners() {
	for _, ps := range s.scanners {
		if ps.stop != nil {
			ps.stop()
			ps.stop = nil
		}
	}
}

// startScanners starts every scanner with ctx. Callers hold s.mu.
func (s *Server) startScanners(ctx context.Context) {
	s.runCtx = ctx
	for _, ps := range s.scanners {
		if ps.stop == nil {
			s.startScanner(ps)
		}
	}
}

// verifyShare carries a pool's file checks through Redis
// (verify.VerifyShare).
type verifyShare struct {
	st   *store.Store
	pool string
}

func (v verifyShare) Ask(ctx context.Context, paths []string) error {
	return v.st.AskVerify(ctx, v.pool, paths)
}

func (v verifyShare) Asked(ctx context.Context, n int) ([]string, error) {
	return v.st.AskedVerify(ctx, v.pool, n)
}

func (v verifyShare) PublishVerdicts(ctx context.Context, version string, data []byte) error {
	return v.st.PublishVerdicts(ctx, v.pool, version, data)
}

func (v verifyShare) FetchVerdicts(ctx context.Context, have string) (string, []byte, error) {
	return v.st.FetchVerdicts(ctx, v.pool, have)
}
