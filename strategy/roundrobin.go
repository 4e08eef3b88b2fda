package strategy

import (
	"context"
	"sync/atomic"
)

// Sequence hands out the positions of one pool's round-robin sequence:
// 1, 2, 3 … Every dispatcher sharing a Sequence follows one cycle.
// Implementations are safe for concurrent use and must not fail: a shared
// sequence that cannot reach its store falls back to a local one.
type Sequence interface {
	Next(ctx context.Context) uint64
}

// LocalSequence is an in-process Sequence. The zero value starts at 1.
type LocalSequence struct{ n atomic.Uint64 }

// Next implements Sequence.
func (s *LocalSequence) Next(context.Context) uint64 { return s.n.Add(1) }

// Set makes the next value v+1.
func (s *LocalSequence) Set(v uint64) { s.n.Store(v) }

// RoundRobin is smooth weighted round robin over a pool's usable mirrors,
// positioned by the pool's Sequence. Any sum(weights) consecutive positions
// visit each mirror exactly weight times, and heavy mirrors are spread out
// (weights {5,1,1} give a a b a c a a).
type RoundRobin struct{}

// Pick implements Strategy.
func (*RoundRobin) Pick(ctx context.Context, p *Pool, c Client) (*Mirror, error) {
	s := p.set(&c)
	if len(s.idx) == 0 {
		return nil, ErrNoMirror
	}
	n := p.Seq.Next(ctx) - 1
	if s.seq == nil {
		return &p.Mirrors[s.idx[n%uint64(len(s.idx))]], nil
	}
	return &p.Mirrors[s.idx[s.seq[n%uint64(len(s.seq))]]], nil
}
