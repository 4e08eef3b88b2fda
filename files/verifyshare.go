package files

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/dispatcher/dispatcher/internal/wait"
)

// VerifyShare carries file checks between instances: the others hand the
// files requested of them to the instance that checks (the lease holder),
// which publishes the mirrors it took out. The server implements it with
// Redis, a few keys per pool whatever the number of files.
type VerifyShare interface {
	// Ask hands requested paths to the instance that checks them.
	Ask(ctx context.Context, paths []string) error
	// Asked takes up to n of the paths asked for.
	Asked(ctx context.Context, n int) ([]string, error)
	// PublishExcluded stores the exclusions, tagged version.
	PublishExcluded(ctx context.Context, version string, data []byte) error
	// FetchExcluded returns the latest exclusions unless their version is
	// have (data is nil then, or when none were published).
	FetchExcluded(ctx context.Context, have string) (version string, data []byte, err error)
}

// verifySync is how often a Verifier with a VerifyShare exchanges with the
// others: requests asked, checks taken, exclusions published or read.
const verifySync = 250 * time.Millisecond

// maxAsk bounds the paths a follower keeps to ask for, and a leader takes
// at once.
const maxAsk = 1000

// sharedVerify is the state of a Verifier that shares its checks.
type sharedVerify struct {
	share  VerifyShare
	leader func(context.Context) bool
	// lookup gives the origin's size of a path and the mirrors believed to
	// hold it, for the paths others asked for.
	lookup func(path string) (size int64, holders []uint64, ok bool)

	mu        sync.Mutex
	leading   bool
	pending   map[string]struct{} // paths to ask for (following)
	published uint64              // exclusion generation published (leading)
	have      string              // exclusion version adopted (following)
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
// its exclusions when they changed; a follower asks for what was requested
// of it and adopts the leader's exclusions when they changed.
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
		if size, holders, ok := sv.lookup(p); ok {
			v.schedule(ctx, verifyJob{p, size, holders})
		}
	}
	gen := v.generation.Load()
	sv.mu.Lock()
	due := gen != sv.published
	sv.mu.Unlock()
	if !due {
		return
	}
	data, err := encode(v.exclusionsByName())
	if err == nil {
		err = sv.share.PublishExcluded(ctx, strconv.FormatInt(time.Now().UnixNano(), 10), data)
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
	version, data, err := sv.share.FetchExcluded(ctx, have)
	if err != nil {
		v.log.Warn("file check results of the leader not read; keeping the last ones", "err", err.Error())
		return
	}
	if data == nil {
		return
	}
	var byName map[string][]string
	if err := decode(data, &byName); err != nil {
		v.log.Warn("file check results of the leader cannot be read", "err", err.Error())
		return
	}
	v.adoptExclusions(byName)
	sv.mu.Lock()
	sv.have = version
	sv.mu.Unlock()
}

// exclusionsByName returns the exclusions with mirror names, not bits: an
// instance whose configuration orders the mirrors otherwise (a reload in
// progress) reads them right.
func (v *Verifier) exclusionsByName() map[string][]string {
	ex := *v.excluded.Load()
	out := make(map[string][]string, len(ex))
	for path, mask := range ex {
		for i := range v.mirrors {
			if i/64 < len(mask) && mask[i/64]>>(i%64)&1 == 1 {
				out[path] = append(out[path], v.mirrors[i].name)
			}
		}
	}
	return out
}

// adoptExclusions makes byName the exclusions, for the mirrors known here.
func (v *Verifier) adoptExclusions(byName map[string][]string) {
	index := make(map[string]int, len(v.mirrors))
	for i, m := range v.mirrors {
		index[m.name] = i
	}
	words := (len(v.mirrors) + 63) / 64
	next := make(map[string][]uint64, len(byName))
	for path, names := range byName {
		var mask []uint64
		for _, name := range names {
			if i, ok := index[name]; ok {
				if mask == nil {
					mask = make([]uint64, words)
				}
				mask[i/64] |= 1 << (i % 64)
			}
		}
		if mask != nil {
			next[path] = mask
		}
	}
	v.mu.Lock()
	v.excluded.Store(&next)
	v.mu.Unlock()
}
