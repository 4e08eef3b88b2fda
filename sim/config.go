package sim

import (
	"time"

	"github.com/dispatcher/dispatcher/feedback"
)

// Mirror is one mirror of the simulated pool.
type Mirror struct {
	Name        string
	CapacityBps float64
	Weight      float64 // configured weight (0: 1)
	Country     string
}

// Change takes a mirror out (it gets no new clients; its downloads finish)
// or brings it back, at At seconds.
type Change struct {
	At     float64
	Mirror int
	Up     bool
}

// Config is one simulation run.
type Config struct {
	Mirrors  []Mirror
	Strategy string // random, roundrobin, iphash, geo
	Feedback bool   // false: the configured weights, always
	Law      feedback.Law
	Seed     uint64
	// Duration is the simulated time; the first Warmup of it is not
	// measured.
	Duration, Warmup time.Duration
	// Load is the mean utilisation of the pool's links the arrival rate is
	// set for (Rate, when set, is the mean requests per second instead).
	Load, Rate float64
	// Poll is the SNMP poll period; the law sees counters as a poll would,
	// stale by up to Poll.
	Poll time.Duration
	// Instances dispatchers share the clients; they adopt new weights one
	// after another over Lag after each poll (with Redis, one polls and
	// the others follow).
	Instances int
	Lag       time.Duration
	Workload  Workload
	Changes   []Change
	// Series, when set, records every mirror's utilisation and effective
	// weight at every poll (for plots).
	Series bool
}

// Result is what a run measured, over the measured window.
type Result struct {
	Strategy string `json:"strategy"`
	Feedback bool   `json:"feedback"`
	// Balance is the busiest link's mean utilisation over the pool's
	// (total bytes sent ÷ total capacity): 1 is perfect.
	Balance    float64 `json:"balance"`
	SaturatedS float64 `json:"saturated_s"` // time any link sent at capacity
	P50S       float64 `json:"p50_s"`       // download time of completed downloads
	P95S       float64 `json:"p95_s"`
	// WeightStddev is the largest standard deviation, over the mirrors, of
	// effective weight ÷ configured weight around its 10-minute moving
	// average, at the polls of the settled periods (after settling from
	// each change): how much the weights swing from poll to poll, without
	// the daily cycle they follow.
	WeightStddev float64 `json:"weight_stddev"`
	// SettleS is the longest time, over the changes, until every mirror's
	// share of the effective weight stays within 0.05 of where it settles.
	SettleS     float64            `json:"settle_s"`
	Utilization map[string]float64 `json:"utilization"` // per mirror, mean
	Requests    int                `json:"requests"`
	Aborted     int                `json:"aborted"`
	PeakActive  int                `json:"peak_active"`
	Series      *Series            `json:"-"`
}

// Series are the per-poll samples of a run.
type Series struct {
	Times       []float64   // seconds
	Mirrors     []string    // names, in order
	Utilization [][]float64 // per mirror, per poll: over the last poll period
	Weight      [][]float64 // per mirror, per poll: effective ÷ configured
	Changes     []Change
}
