package api

// WeightFactors are the terms of a mirror's effective weight, as the
// snapshot being served was built with them:
// weight × enabled × health × headroom × ramp × capacity.
type WeightFactors struct {
	Configured bool    `json:"enabled"` // enabled in the configuration file
	Drained    bool    `json:"drained"` // taken out by an operator
	Health     float64 `json:"health"`  // 0 when its health probes fail
	Headroom   float64 `json:"headroom"`
	Ramp       float64 `json:"ramp"`
	// Capacity is the link's capacity over the pool's largest polled
	// link: headroom × capacity is the spare bandwidth the weight follows.
	Capacity float64 `json:"capacity"`
	// Floored is set when the headroom was raised to the law's floor,
	// because every mirror of the pool is saturated.
	Floored bool `json:"floored"`
}

// Explanation answers GET /api/explain: why a client gets a mirror.
type Explanation struct {
	Path     string            `json:"path"`
	Client   ExplainedClient   `json:"client"`
	Pool     string            `json:"pool"`
	Strategy string            `json:"strategy"`
	File     *ExplainedFile    `json:"file,omitempty"`
	Mirrors  []ExplainedMirror `json:"mirrors"`
	Mirror   *string           `json:"mirror"`
	Note     string            `json:"note,omitempty"`
}

// ExplainedClient is the client as the dispatcher resolves it.
type ExplainedClient struct {
	IP string `json:"ip"`
	// Source says where the address came from: the connection, a
	// forwarding header of a trusted proxy, or the ip parameter.
	Source    string `json:"source"`
	Country   string `json:"country"`
	Continent string `json:"continent"`
	// ASN is the client's autonomous system (0: unknown, or no asn_db).
	ASN    uint32   `json:"asn"`
	Lat    *float64 `json:"lat"`
	Lon    *float64 `json:"lon"`
	Secure bool     `json:"https"`
}

// ExplainedFile is what a file-aware pool knows of the requested file.
type ExplainedFile struct {
	Scanned bool   `json:"scanned"` // false before the first scan: any mirror
	Known   bool   `json:"in_origin"`
	Size    *int64 `json:"size"`
	Holders int    `json:"holders"`
	// Confirmed is false when no mirror is known to hold the file (none
	// listed with it, none passed a check of this copy): the request goes
	// to the fallback, else to the mirrors not listed or checked yet.
	Confirmed bool `json:"confirmed"`
	// Answer is what a request for a path the origin lacks, or for a
	// file no mirror is known to hold in a pool with a fallback, gets;
	// "origin" for a path the pool sends to origin_url (origin_paths,
	// min_size).
	Answer string `json:"answer,omitempty"`
}

// ExplainedMirror is one mirror and the reasons for its part.
type ExplainedMirror struct {
	Name            string         `json:"name"`
	Weight          float64        `json:"weight"`
	EffectiveWeight float64        `json:"effective_weight"`
	Usable          bool           `json:"usable"`
	Share           float64        `json:"share"` // of this client's requests
	Factors         ExplainFactors `json:"factors"`
	Reason          string         `json:"reason"`
}

// ExplainFactors are the weight factors and what else decides a
// mirror's part for this client.
type ExplainFactors struct {
	WeightFactors
	Up          bool    `json:"up"`
	ProbeError  string  `json:"probe_error,omitempty"`
	Utilization float64 `json:"utilization"`
	PollError   string  `json:"poll_error,omitempty"`
	Tier        string  `json:"tier,omitempty"` // geo
	HoldsFile   *bool   `json:"holds_file,omitempty"`
	FailedCheck bool    `json:"failed_check,omitempty"` // verify took it out for this file
	Reachable   bool    `json:"reachable"`              // over https when the client came over https, IPv6 for an IPv6 client
	// Excluded lists the rules that keep the mirror from this client, or
	// put it behind others: only, excluded_country and family (an IPv6-only
	// mirror for an IPv4 client) exclude it; scheme and family for an
	// IPv6 client put https and IPv6 mirrors first.
	Excluded []ExcludedBy `json:"excluded,omitempty"`
}

// ExcludedBy is one rule that keeps a mirror from a client.
type ExcludedBy struct {
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
}
