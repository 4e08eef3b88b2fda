package files

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/gob"
	"fmt"
	"time"
)

// Sharer carries one instance's scan results to the others (the server
// implements it with Redis: one key per pool, whatever the number of
// files or mirrors).
type Sharer interface {
	// Publish stores data as the pool's latest results, tagged version.
	Publish(ctx context.Context, pool, version string, data []byte) error
	// Fetch returns the pool's latest results unless their version is
	// have; data is nil when there is nothing newer (or nothing at all).
	Fetch(ctx context.Context, pool, have string) (version string, data []byte, err error)
}

// published is what a leader's scan hands to the followers: the origin
// listing and what each mirror holds, with the statuses.
type published struct {
	Origin   []Entry
	Sums     map[int][32]byte // by position in Origin
	OStatus  OriginStatus
	Mirrors  []string
	Bits     [][]uint64 // per mirror; nil: every file
	MStatus  []MirrorStatus
	Version  string
	Produced time.Time
}

// encode packs the results of a scan, gzipped gob.
func encode(p *published) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := gob.NewEncoder(zw).Encode(p); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decode(data []byte) (*published, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var p published
	if err := gob.NewDecoder(zr).Decode(&p); err != nil {
		return nil, err
	}
	return &p, nil
}

// snapshotForShare packs ix and the holdings of one scan.
func snapshotForShare(ix *Index, mirrors []string, holdings []*Holdings, o OriginStatus, ms []MirrorStatus, at time.Time) *published {
	p := &published{OStatus: o, Mirrors: mirrors, MStatus: ms, Produced: at,
		Version: fmt.Sprintf("%d", at.UnixNano())}
	p.Origin = make([]Entry, ix.Len())
	for id := range ix.Len() {
		p.Origin[id] = Entry{Path: ix.Path(id), Size: ix.Size(id), MTime: ix.MTime(id)}
		if sum, ok := ix.SHA256(id); ok {
			if p.Sums == nil {
				p.Sums = map[int][32]byte{}
			}
			p.Sums[id] = sum
		}
	}
	p.Bits = make([][]uint64, len(holdings))
	for m, h := range holdings {
		if h != nil {
			p.Bits[m] = h.bits
		}
	}
	return p
}

// adopt rebuilds the index and holdings a leader published.
func (p *published) adopt() (*Index, []*Holdings, error) {
	var b Builder
	for id, e := range p.Origin {
		if err := CheckPath(e.Path); err != nil {
			return nil, nil, fmt.Errorf("published origin: %w", err)
		}
		if sum, ok := p.Sums[id]; ok {
			b.Add(e, &sum)
		} else {
			b.Add(e, nil)
		}
	}
	ix := b.Build()
	hs := make([]*Holdings, len(p.Bits))
	for m, bits := range p.Bits {
		if bits == nil {
			continue
		}
		if len(bits) != (ix.Len()+63)/64 {
			return nil, nil, fmt.Errorf("published holdings of %s do not match the origin", p.Mirrors[m])
		}
		h := &Holdings{bits: bits, of: ix}
		if m < len(p.MStatus) {
			h.Stats = p.MStatus[m].Stats
		}
		hs[m] = h
	}
	return ix, hs, nil
}
