package stats

import (
	"context"
	"time"
)

// Limits bound what is kept per pool and day.
type Limits struct {
	// Files is how many distinct files are counted exactly.
	Files int
	// Summary is how many more the Space-Saving summary follows.
	Summary int
	// Retention is how long a day is kept after it ends.
	Retention time.Duration
}

// SummaryFor returns the summary size for files exact ones: a tenth as
// many, at least 100.
func SummaryFor(files int) int { return max(100, files/10) }

// Backend keeps the figures.
type Backend interface {
	// Write adds c to the figures of pd. id names the write: a write
	// retried with the same id after an error whose outcome is unknown
	// (a reply lost) is applied once. c is the caller's again when
	// Write returns: it is emptied and reused.
	Write(ctx context.Context, pd PoolDay, c *Counts, id string, lim Limits) error
	// Read returns the figures of pd; with files false, without the
	// files and the summary.
	Read(ctx context.Context, pd PoolDay, files bool) (Figures, error)
}

// Figures are what a backend keeps of one pool and day.
type Figures struct {
	Total uint64
	// Unkeyed are downloads counted without their file (see Counts).
	Unkeyed uint64
	// Beyond are the downloads of files that came after Limits.Files
	// distinct ones: the summary's stream.
	Beyond    uint64
	Mirrors   map[string]uint64
	Countries map[string]uint64
	// Files are counted exactly.
	Files map[string]uint64
	// Summary are the files the Space-Saving summary follows.
	Summary map[string]Estimate
}

// Estimate is a summary's count of a file: Count − Err ≤ true ≤ Count.
type Estimate struct {
	Count, Err uint64
}

// Expires is when pd's figures expire: retention after its day ends.
func (pd PoolDay) Expires(retention time.Duration) time.Time {
	return (pd.Day + 1).Time().Add(retention)
}
