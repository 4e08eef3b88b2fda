package store

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dispatcher/dispatcher/strategy"
)

// maxReserve bounds the positions a Sequence holds ahead.
const maxReserve = 1024

// reserveSpan is how much traffic the reserve covers under concurrent
// load, at the rate seen between the last two refills.
const reserveSpan = 50 * time.Millisecond

// refillTimeout bounds one INCRBY of a refill. A refill slower than a
// request's budget does not make Redis "down": only one that fails, or
// takes longer than this, does.
const refillTimeout = time.Second

// Sequence is a round-robin sequence shared by every dispatcher on one
// Redis: one key, advanced with INCRBY. It implements strategy.Sequence.
//
// Requests do not wait on Redis in the common case:
//
//   - A background refill keeps a reserve of positions in hand, fetched
//     with one INCRBY, and tops it up when a quarter is used. Requests
//     take from it without a round trip.
//   - Requests that find the reserve empty queue behind the refill, which
//     fetches a position for each of them; they get them in queue order.
//     Whenever requests had to wait, the reserve doubles (up to 1,024);
//     when some gave up waiting, it quadruples; and once traffic is
//     concurrent it covers at least 50 ms of it at the current rate.
//   - When refills become rare (traffic dropped), the reserve halves each
//     time. A request alone makes its own INCRBY 1, so two instances
//     called alternately follow one cycle.
//
// A request waits at most the store's budget: when the refill has not
// answered by then, that request alone takes a position from an
// in-process counter (counted as a fallback) and the refill goes on. A
// slow answer is not a dead Redis. Only a refill that fails, or gets no
// answer within a second, marks Redis unreachable: then every request
// takes in-process positions, carrying on from the last shared value,
// until Redis answers again.
//
// Every position Redis hands out is used exactly once, so counts stay
// exact; after a burst the positions still in reserve are used by the
// next requests, a little out of the global order.
type Sequence struct {
	s     *Store
	key   string
	local strategy.LocalSequence

	mu         sync.Mutex
	spans      []span // reserved positions, used in order
	held       uint64 // positions in spans
	want       uint64 // reserve to keep
	taken      uint64 // positions handed out from reserves, ever
	takenThen  uint64 // taken at the last refill
	queue      []*waiter
	inflight   bool // a refill goroutine is running
	lastRefill time.Time
}

// span is a range of positions [next, end) obtained in one INCRBY.
type span struct{ next, end uint64 }

// waiter is a request waiting for a position. Its state goes from waiting
// to served (the refill sends a position) or to gone (the request stopped
// waiting and took a local position); the one that wins the change acts.
type waiter struct {
	ch    chan uint64
	state atomic.Int32
}

const (
	waiting int32 = iota
	served
	gone
)

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
		return q.fallback(ctx)
	}
	q.mu.Lock()
	if v, ok := q.take(); ok {
		if !q.inflight && q.held < q.want*3/4 {
			q.startRefill(ctx)
		}
		q.mu.Unlock()
		return v
	}
	w := waiters.Get().(*waiter)
	w.state.Store(waiting)
	q.queue = append(q.queue, w)
	if !q.inflight {
		q.startRefill(ctx)
	}
	q.mu.Unlock()

	t := time.NewTimer(q.s.budget)
	defer t.Stop()
	select {
	case v := <-w.ch:
		waiters.Put(w)
		return v
	case <-t.C:
	case <-ctx.Done():
	}
	if w.state.CompareAndSwap(waiting, gone) {
		// The refill skips it; it is not reused, as the queue may still
		// hold it.
		return q.fallback(ctx)
	}
	v := <-w.ch // served as the wait ended
	waiters.Put(w)
	return v
}

// fallback hands out an in-process position.
func (q *Sequence) fallback(ctx context.Context) uint64 {
	q.s.fallbacks.Add(1)
	return q.local.Next(ctx)
}

// take returns the next reserved position. Callers hold q.mu.
func (q *Sequence) take() (uint64, bool) {
	for len(q.spans) > 0 {
		sp := &q.spans[0]
		if sp.next < sp.end {
			v := sp.next
			sp.next++
			q.held--
			q.taken++
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
// hands them out in queue order and keeps the rest, until nobody waits and
// the reserve is at least half full.
func (q *Sequence) refill(ctx context.Context) {
	for {
		q.mu.Lock()
		queued := uint64(len(q.queue)) // gone ones included: they waited too
		gave := q.dropGone()
		switch {
		case gave > 0:
			// Requests gave up waiting: the reserve was far too small.
			q.want = min(max(4*q.want, 4*queued), maxReserve)
		case queued > 1 || queued == 1 && q.want > 0:
			// Requests had to wait, together or with a reserve that ran
			// dry: keep more in hand.
			q.want = min(max(2*q.want, queued), maxReserve)
		case time.Since(q.lastRefill) > 100*time.Millisecond:
			q.want /= 2
		}
		now := time.Now()
		if q.want > 0 {
			// Under concurrent load, keep at least reserveSpan of traffic
			// in hand, so that a refill delayed by a busy CPU does not
			// leave requests waiting. (Sequential traffic keeps want at
			// 0: one INCRBY 1 per request, one global order.)
			if dt := now.Sub(q.lastRefill); dt > 0 && dt < time.Second {
				rate := float64(q.taken-q.takenThen) / dt.Seconds()
				q.want = min(max(q.want, uint64(rate*reserveSpan.Seconds())), maxReserve)
			}
		}
		q.lastRefill, q.takenThen = now, q.taken
		n := uint64(len(q.queue))
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
			w := q.queue[0]
			if w.state.Load() == waiting {
				v, got := q.take()
				if !got && ok {
					break // more arrived than fetched for: another round
				}
				if !w.state.CompareAndSwap(waiting, served) {
					if got {
						q.unTake(v)
					}
				} else {
					if !got {
						v = q.fallback(ctx)
					}
					w.ch <- v
				}
			}
			q.queue[0] = nil
			q.queue = q.queue[1:]
		}
		if len(q.queue) == 0 && (!ok || q.held >= q.want*3/4) {
			q.inflight = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
	}
}

// dropGone removes the requests that stopped waiting from the front of
// the queue and returns how many it removed. Callers hold q.mu.
func (q *Sequence) dropGone() int {
	n := 0
	for len(q.queue) > 0 && q.queue[0].state.Load() == gone {
		q.queue[0] = nil
		q.queue = q.queue[1:]
		n++
	}
	return n
}

// unTake puts back position v, just taken by take. Callers hold q.mu.
func (q *Sequence) unTake(v uint64) {
	q.spans[0].next = v
	q.held++
	q.taken--
}

// fetch reserves n positions in Redis and returns the first.
func (q *Sequence) fetch(ctx context.Context, n uint64) (uint64, bool) {
	if !q.s.connected.Load() {
		return 0, false
	}
	ctx, cancel := context.WithTimeout(ctx, refillTimeout)
	defer cancel()
	q.s.roundTrips.Add(1)
	began := q.s.now()
	last, err := q.s.client.IncrBy(ctx, q.key, int64(n)).Uint64()
	if err != nil {
		q.s.failed(err, began)
		return 0, false
	}
	q.s.succeeded()
	q.s.positions.Add(n)
	// The local counter carries on from here if Redis goes away.
	q.local.Set(last)
	return last - n + 1, true
}

var _ strategy.Sequence = (*Sequence)(nil)
