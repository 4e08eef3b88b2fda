package api

// Stats answers GET /api/stats: a pool's downloads over a range of days,
// by day, mirror, country or file.
type Stats struct {
	Pool string `json:"pool"`
	By   string `json:"by"`
	From string `json:"from"` // YYYY-MM-DD, UTC
	To   string `json:"to"`
	// Total is every download of the pool in the range.
	Total uint64     `json:"total"`
	Rows  []StatsRow `json:"rows"`
	// Other is the downloads no row names: rows past top, and for files,
	// downloads whose file was not kept.
	Other uint64 `json:"other"`
}

// StatsRow is one day, mirror, country or file.
type StatsRow struct {
	Key       string `json:"key"`
	Downloads uint64 `json:"downloads"`
	// Error is set for a file that was, on some day, followed by the
	// summary: the true count is between Downloads and Downloads+Error.
	Error uint64 `json:"error,omitempty"`
}
