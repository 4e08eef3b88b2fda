package verify

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/dispatcher/dispatcher/files"
	"github.com/dispatcher/dispatcher/internal/bitmask"
	"github.com/dispatcher/dispatcher/internal/gobzip"
	"github.com/dispatcher/dispatcher/internal/wait"
)

// VerifyShare carries file checks between instances: the others hand the
// files requested of them to the instance that checks (the lease holder),
// which publishes its verdicts (who passed for which copy, who failed). The server implements it with
// Redis, a few keys per pool whatever the number of files.
type VerifyShare interface {
	// Ask hands requested paths to the instance that checks them.
	Ask(ctx context.Context, paths []string) error
	// Asked takes up to n of the paths asked for.
	Asked(ctx context.Context, n int) ([]string, error)
	// PublishVerdicts stores the verdicts, tagged version.
	PublishVerdicts(ctx context.Context, version string, data []byte) error
	// FetchVerdicts returns the latest verdicts unless their version is
	// have (data is nil then, or when none were published).
	FetchVerdicts(ctx context.Context, have string) (version string, data []byte, err error)
}

// verifySync is how often a Verifier with a VerifyShare exchanges with the
// others: requests asked, checks taken, verdicts published or read.
const verifySync = 250 * time.Millisecond

// maxAsk bounds the paths a follower keeps to ask for, and a leader takes
// at once.
const maxAsk = 1000

// sharedVerify is the state of a Verifier that shares its checks.
type sharedVerify struct {
	share  VerifyShare
	leader func(context.Context) bool
	// lookup gives what a check of a path others asked for needs.
	lookup func(path string) (files.Check, bool)

	mu        sync.Mutex
	leading   bool
	pending   map[string]struct{} // paths to ask for (following)
	published uint64              // verdict generation published (leading)
	have      string              // verdict version adopted (following)
}

// isLeading reports whether this instance checks files itself.
func (v *Verifier) isLeading() bool {
	if v.shared == nil {
		return true
	}
	v.shared.mu.Lock()
	defer v.shared.mu.Unlock()
	return v.shared.leading
}

// deferToLeader keeps a requested path to ask the leader for.
func (v *Verifier) deferToLeader(path string) {
	sv := v.shared
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if len(sv.pending) >= maxAsk {
		v.dropped.Add(1)
		return
	}
	sv.pending[path] = struct{}{}
}

// syncShared exchanges with the other instances every verifySync until ctx
// ends.
func (v *Verifier) syncShared(ctx context.Context) {
	v.syncOnce(ctx)
	wait.Every(ctx, verifySync, func() { v.syncOnce(ctx) })
}

// syncOnce is one exchange: the leader checks what was asked and publishes
// its verdicts when they changed; a follower asks for what was requested
// of it and adopts the leader's verdicts when they changed.
func (v *Verifier) syncOnce(ctx context.Context) {
	sv := v.shared
	lead := sv.leader(ctx)
	sv.mu.Lock()
	if lead != sv.leading {
		sv.leading, sv.published, sv.have = lead, 0, ""
	}
	sv.mu.Unlock()
	if lead {
		v.leadShared(ctx)
	} else {
		v.followShared(ctx)
	}
}

func (v *Verifier) leadShared(ctx context.Context) {
	sv := v.shared
	paths, err := sv.share.Asked(ctx, maxAsk)
	if err != nil {
		v.log.Warn("files others asked to check not read", "err", err.Error())
	}
	sv.mu.Lock()
	for p := range sv.pending { // requested here before this instance led
		paths = append(paths, p)
	}
	clear(sv.pending)
	sv.mu.Unlock()
	for _, p := range paths {
		if c, ok := sv.lookup(p); ok {
			v.schedule(ctx, c)
		}
	}
	gen := v.generation.Load()
	sv.mu.Lock()
	due := gen != sv.published
	sv.mu.Unlock()
	if !due {
		return
	}
	data, err := gobzip.Encode(v.verdictsByName())
	if err == nil {
		err = sv.share.PublishVerdicts(ctx, strconv.FormatInt(time.Now().UnixNano(), 10), data)
	}
	if err != nil {
		v.log.Warn("file check results not shared", "err", err.Error())
		return
	}
	sv.mu.Lock()
	sv.published = gen
	sv.mu.Unlock()
}

func (v *Verifier) followShared(ctx context.Context) {
	sv := v.shared
	sv.mu.Lock()
	ask := make([]string, 0, len(sv.pending))
	for p := range sv.pending {
		ask = append(ask, p)
	}
	clear(sv.pending)
	have := sv.have
	sv.mu.Unlock()
	if len(ask) > 0 {
		if err := sv.share.Ask(ctx, ask); err != nil {
			v.log.Warn("files requested here not handed to the checking instance", "err", err.Error())
		}
	}
	version, data, err := sv.share.FetchVerdicts(ctx, have)
	if err != nil {
		v.log.Warn("file check results of the leader not read; keeping the last ones", "err", err.Error())
		return
	}
	if data == nil {
		return
	}
	var byName map[string]namedVerdict
	if err := gobzip.Decode(data, &byName); err != nil {
		v.log.Warn("file check results of the leader cannot be read", "err", err.Error())
		return
	}
	v.adoptVerdicts(byName)
	sv.mu.Lock()
	sv.have = version
	sv.mu.Unlock()
}

// namedVerdict is a Verdict with mirror names, not bits: an instance
// whose configuration orders the mirrors otherwise (a reload in progress)
// reads it right.
type namedVerdict struct {
	Version        files.Version
	Passed, Failed []string
}

// verdictsByName returns the verdicts with mirror names.
func (v *Verifier) verdictsByName() map[string]namedVerdict {
	names := func(mask []uint64) []string {
		var out []string
		for i := range v.mirrors {
			if bitmask.Word(mask, i/64)>>(i%64)&1 == 1 {
				out = append(out, v.mirrors[i].name)
			}
		}
		return out
	}
	out := map[string]namedVerdict{}
	v.verdicts.each(func(path string, d *Verdict) {
		out[path] = namedVerdict{Version: d.Version, Passed: names(d.Passed), Failed: names(d.Failed)}
	})
	return out
}

// adoptVerdicts makes byName the verdicts, for the mirrors known here.
func (v *Verifier) adoptVerdicts(byName map[string]namedVerdict) {
	index := make(map[string]int, len(v.mirrors))
	for i, m := range v.mirrors {
		index[m.name] = i
	}
	words := (len(v.mirrors) + 63) / 64
	mask := func(names []string) []uint64 {
		m := make([]uint64, words)
		for _, name := range names {
			if i, ok := index[name]; ok {
				m[i/64] |= 1 << (i % 64)
			}
		}
		return m
	}
	all := make(map[string]*Verdict, len(byName))
	for path, nv := range byName {
		d := &Verdict{Version: nv.Version, Passed: mask(nv.Passed), Failed: mask(nv.Failed)}
		if !bitmask.IsZero(d.Passed) || !bitmask.IsZero(d.Failed) {
			all[path] = d
		}
	}
	v.mu.Lock()
	v.verdicts.replace(all)
	v.mu.Unlock()
}
