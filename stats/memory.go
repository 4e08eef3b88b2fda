package stats

import (
	"context"
	"maps"
	"sync"
	"time"
)

// Memory keeps the figures in process: one instance's own, gone when it
// stops. It applies the rules of the Redis script: the same writes give
// the same figures (TestMemoryIsRedis).
type Memory struct {
	mu   sync.Mutex
	days map[PoolDay]*memDay
	now  func() time.Time
}

type memDay struct {
	fig     Figures
	summary *spaceSaving
	expires time.Time
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{days: map[PoolDay]*memDay{}, now: time.Now} }

// Write implements Backend.
func (m *Memory) Write(_ context.Context, pd PoolDay, c *Counts, _ string, lim Limits) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for k, d := range m.days {
		if !now.Before(d.expires) {
			delete(m.days, k)
		}
	}
	exp := pd.Expires(lim.Retention)
	if !now.Before(exp) {
		return nil // a day already expired, as Redis drops it
	}
	d := m.days[pd]
	if d == nil {
		d = &memDay{fig: Figures{Mirrors: map[string]uint64{}, Countries: map[string]uint64{}, Files: map[string]uint64{}},
			summary: newSpaceSaving(lim.Summary)}
		m.days[pd] = d
	}
	d.expires = exp
	f := &d.fig
	f.Total += c.Total
	f.Unkeyed += c.Unkeyed
	addTo(f.Mirrors, c.Mirrors)
	addTo(f.Countries, c.Countries)
	for _, file := range c.FileOrder() {
		n := c.Files[file]
		if old, ok := f.Files[file]; ok || len(f.Files) < lim.Files {
			f.Files[file] = old + n
			continue
		}
		f.Beyond += n
		d.summary.offer(file, n)
	}
	return nil
}

// Read implements Backend.
func (m *Memory) Read(_ context.Context, pd PoolDay, files bool) (Figures, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.days[pd]
	if d == nil || !m.now().Before(d.expires) {
		return Figures{}, nil
	}
	f := d.fig
	f.Mirrors, f.Countries = maps.Clone(f.Mirrors), maps.Clone(f.Countries)
	if files {
		f.Files, f.Summary = maps.Clone(f.Files), d.summary.estimates()
	} else {
		f.Files = nil
	}
	return f, nil
}
