package api

import "time"

// Status is the body of GET /api/status.
type Status struct {
	Pools           []PoolStatus `json:"pools"`
	Redis           RedisStatus  `json:"redis"`
	ConfigSHA256    string       `json:"config_sha256"`
	ConfigFile      string       `json:"config_file"`
	Started         time.Time    `json:"started"`
	SnapshotVersion uint64       `json:"snapshot_version"`
	GeoIP           string       `json:"geoip"`
}

// PoolStatus is one pool in Status.
type PoolStatus struct {
	Name     string   `json:"name"`
	Strategy string   `json:"strategy"`
	Routes   []string `json:"routes"`
	Fallback string   `json:"fallback,omitempty"`
	Usable   int      `json:"usable"`
	// Files is the origin of a file-aware pool (absent otherwise).
	Files   *PoolFiles     `json:"files,omitempty"`
	Mirrors []MirrorStatus `json:"mirrors"`
}

// PoolFiles is a file-aware pool's origin in Status.
type PoolFiles struct {
	OriginFiles int        `json:"origin_files"`
	LastScan    *time.Time `json:"last_scan"`
	ScanError   string     `json:"scan_error"`
	// ScansHere counts the scans this instance ran; Adopted, the results
	// it took from the instance holding the lease (with Redis).
	ScansHere uint64 `json:"scans_here"`
	Adopted   uint64 `json:"adopted"`
	// ChecksHere counts the HEADs of verify this instance made (with
	// Redis, the lease holder checks for all).
	ChecksHere uint64 `json:"checks_here"`
}

// MirrorFiles is what a mirror of a file-aware pool holds of the origin.
// Listed is false for a mirror without rsync, assumed to hold every file.
type MirrorFiles struct {
	Held      int        `json:"held"`
	Missing   int        `json:"missing"`
	Outdated  int        `json:"outdated"`
	Listed    bool       `json:"listed"`
	LastScan  *time.Time `json:"last_scan"`
	ScanError string     `json:"scan_error"`
}

// MirrorStatus is one mirror in Status. Times are null until the first
// probe or poll.
type MirrorStatus struct {
	Name            string     `json:"name"`
	URL             string     `json:"url"`
	Country         string     `json:"country,omitempty"`
	Continent       string     `json:"continent,omitempty"`
	Enabled         bool       `json:"enabled"`
	Up              bool       `json:"up"`
	Weight          float64    `json:"weight"`
	EffectiveWeight float64    `json:"effective_weight"`
	BandwidthBps    float64    `json:"bandwidth_bps"`
	CapacityBps     float64    `json:"capacity_bps"`
	Utilization     float64    `json:"utilization"`
	Redirects       uint64     `json:"redirects"`
	LastProbe       *time.Time `json:"last_probe"`
	ProbeError      string     `json:"probe_error"`
	LastPoll        *time.Time `json:"last_poll"`
	PollError       string     `json:"poll_error"`
	// Files is what the mirror holds, in a file-aware pool.
	Files *MirrorFiles `json:"files,omitempty"`
}

// RedisStatus says whether state is shared through Redis.
type RedisStatus struct {
	Configured bool   `json:"configured"`
	Connected  bool   `json:"connected"`
	Fallbacks  uint64 `json:"fallbacks"`
	Error      string `json:"error,omitempty"`
}
