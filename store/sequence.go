package store

import (
	"context"
	"sync"
	"time"

	"github.com/dispatcher/dispatcher/strategy"
)

// maxReserve bounds the positions a Sequence holds ahead.
const maxReserve = 256

// Sequence is a round-robin sequence shared by every dispatcher on one
// Redis: one key, advanced with INCRBY. It implements strategy.Sequence.
//
// It does not pay a round trip per request:
//
//   - Requests that find no position in hand queue up behind one INCRBY,
//     which fetches a position for each of them; they get them in queue
//     order.
//   - When several requests had to wait together (the process is busy),
//     the next INCRBY also reserves positions ahead, doubling up to 256.
//     Later requests take them without waiting, and a refill starts in the
//     background when half are used.
//   - When refills become rare (traffic dropped), the reserve halves each
//     time. A request alone makes its own INCRBY 1, so two instances
//     called alternately follow one cycle.
//
// Every position Redis hands out is used exactly once, so counts stay
// exact; after a burst, the few positions still in reserve are used by the
// next requests, a little out of the global order.
//
// When Redis does not answer within the store's budget, the waiting
// requests and every request after them take positions from an in-process
// counter that carries on from the last shared value, until Redis answers.
type Sequence struct {
	s     *Store
	key   string
	local strategy.LocalSequence

	mu         sync.Mutex
	spans      []span // reserved positions, used in order
	held       uint64 // positions in spans
	want       uint64 // reserve to keep
	queue      []*waiter
	inflight   bool // a refill goroutine is running
	lastRefill time.Time
}

// span is a range of positions [next, end) obtained in one INCRBY.
type span struct{ next, end uint64 }

type waiter struct{ ch chan uint64 }

var waiters = sync.Pool{New: func() any { return &waiter{ch: make(chan uint64, 1)} }}

// Sequence returns the shared sequence of pool, created once per name.
func (s *Store) Sequence(pool string) *Sequence {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.seqs[pool]
	if q == nil {
		q = &Sequence{s: s, key: s.Key("rr:" + pool)}
		s.seqs[pool] = q
	}
	return q
}

// Next implements strategy.Sequence.
func (q *Sequence) Next(ctx context.Context) uint64 {
	if !q.s.connected.Load() {
		q.s.fallbacks.Add(1)
		return q.local.Next(ctx)
	}
	q.mu.Lock()
	if v, ok := q.take(); ok {
		if !q.inflight && q.held < q.want/2 {
			q.startRefill(ctx)
		}
		q.mu.Unlock()
		return v
	}
	w := waiters.Get().(*waiter)
	q.queue = append(q.queue, w)
	if !q.inflight {
		q.startRefill(ctx)
	}
	q.mu.Unlock()
	v := <-w.ch
	waiters.Put(w)
	return v
}

// take returns the next reserved position. Callers hold q.mu.
func (q *Sequence) take() (uint64, bool) {
	for len(q.spans) > 0 {
		sp := &q.spans[0]
		if sp.next < sp.end {
			v := sp.next
			sp.next++
			q.held--
			return v, true
		}
		q.spans = q.spans[1:]
	}
	return 0, false
}

// startRefill starts the one refill goroutine. Callers hold q.mu. The
// request's context must not cancel it: it serves the others too.
func (q *Sequence) startRefill(ctx context.Context) {
	q.inflight = true
	go q.refill(context.WithoutCancel(ctx))
}

// refill fetches positions for the waiting requests plus the reserve,
// hands them out in queue order and keeps the rest, until nobody waits.
func (q *Sequence) refill(ctx context.Context) {
	for {
		q.mu.Lock()
		waiting := uint64(len(q.queue))
		switch {
		case waiting > 1:
			// Requests waited together: keep more in hand.
			q.want = min(max(2*q.want, waiting), maxReserve)
		case time.Since(q.lastRefill) > 100*time.Millisecond:
			q.want /= 2
		}
		q.lastRefill = time.Now()
		n := waiting
		if q.want > q.held {
			n += q.want - q.held
		}
		q.mu.Unlock()

		first, ok := uint64(0), false
		if n > 0 {
			first, ok = q.fetch(ctx, n)
		}

		q.mu.Lock()
		if ok {
			q.spans = append(q.spans, span{first, first + n})
			q.held += n
		}
		for len(q.queue) > 0 {
			v, got := q.take()
			if !got {
				if ok {
					break // more arrived than fetched for: another round
				}
				v = q.local.Next(ctx)
			}
			q.queue[0].ch <- v
			q.queue[0] = nil
			q.queue = q.queue[1:]
		}
		if len(q.queue) == 0 && (!ok || q.held >= q.want/2) {
			q.inflight = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
	}
}

// fetch reserves n positions in Redis and returns the first.
func (q *Sequence) fetch(ctx context.Context, n uint64) (uint64, bool) {
	if !q.s.connected.Load() {
		q.s.fallbacks.Add(n)
		return 0, false
	}
	ctx, cancel := context.WithTimeout(ctx, q.s.budget)
	defer cancel()
	q.s.roundTrips.Add(1)
	last, err := q.s.client.IncrBy(ctx, q.key, int64(n)).Uint64()
	if err != nil {
		q.s.failed(err)
		q.s.fallbacks.Add(n)
		return 0, false
	}
	q.s.succeeded()
	q.s.positions.Add(n)
	// The local counter carries on from here if Redis goes away.
	q.local.Set(last)
	return last - n + 1, true
}

var _ strategy.Sequence = (*Sequence)(nil)
