package files

import (
	"sync"
	"time"
)

// swapBatcher swaps the mirror listings of one scan run into the View at
// most once every `every`: a listing that comes sooner waits for the next
// swap, never longer than `every`. A burst (the first listing of every
// mirror, a rescan that finds many changed) then costs one rebuild of the
// rows, not a copy of every row per mirror.
type swapBatcher struct {
	s     *Scanner
	every time.Duration

	mu      sync.Mutex
	pending []listed
	last    time.Time
	timer   *time.Timer
}

// listed is one mirror's listing, judged.
type listed struct {
	mirror int
	h      *Holdings
	st     MirrorStatus
}

// add hands over mirror i's listing.
func (b *swapBatcher) add(i int, h *Holdings, st MirrorStatus) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(b.pending, listed{i, h, st})
	wait := b.every - time.Since(b.last)
	if wait <= 0 {
		b.flushLocked()
		return
	}
	if b.timer == nil {
		b.timer = time.AfterFunc(wait, b.flush)
	}
}

// flush swaps in what is pending now.
func (b *swapBatcher) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *swapBatcher) flushLocked() {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if len(b.pending) == 0 {
		return
	}
	batch := b.pending
	b.pending, b.last = nil, time.Now()
	changes := make(map[int]*Holdings, len(batch))
	for _, l := range batch {
		changes[l.mirror] = l.h
	}
	b.s.viewMu.Lock()
	defer b.s.viewMu.Unlock()
	b.s.swap(b.s.view.Load().WithAll(changes), func() {
		for _, l := range batch {
			b.s.mStatus[b.s.mirrors[l.mirror].Name] = l.st
		}
	})
}
