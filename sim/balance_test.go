package sim

import (
	"testing"
	"time"

	"github.com/dispatcher/dispatcher/feedback"
)

// pool3 is the pool the balance goal is set for: links of 100, 400 and
// 1,000 Mbit/s, equal weights, 60% mean load.
func pool3(strategy string, fb bool, law feedback.Law, changes []Change) Config {
	return Config{
		Mirrors:  []Mirror{{Name: "m1", CapacityBps: 100e6}, {Name: "m2", CapacityBps: 400e6}, {Name: "m3", CapacityBps: 1000e6}},
		Strategy: strategy, Feedback: fb, Law: law, Seed: 7, Duration: 24 * time.Hour, Warmup: time.Hour, Load: 0.6,
		Poll:     10 * time.Second,
		Workload: DefaultWorkload(), Changes: changes,
	}
}

// TestBalanceRegression runs seeded simulations (a simulated day each;
// a run is a pure function of its configuration) and holds the law to its
// goal: with feedback the busiest link is within 10% of the pool's mean
// utilisation, where plain random is at least 1.5 times it; and the law
// before (headroom as a fraction of the link) is measurably worse. A
// change to the law that worsens balance fails here.
func TestBalanceRegression(t *testing.T) {
	for _, st := range []string{"random", "roundrobin", "iphash", "geo"} {
		on, err := Run(pool3(st, true, feedback.DefaultLaw, nil))
		if err != nil {
			t.Fatal(err)
		}
		if on.Balance > 1.1 {
			t.Errorf("%s with feedback: balance %.3f; want at most 1.1 (utilisation %v)", st, on.Balance, on.Utilization)
		}
	}
	off, _ := Run(pool3("random", false, feedback.DefaultLaw, nil))
	if off.Balance < 1.5 {
		t.Errorf("random without feedback: balance %.3f; want at least 1.5", off.Balance)
	}
	fraction := feedback.DefaultLaw
	fraction.ByCapacity = false
	before, _ := Run(pool3("random", true, fraction, nil))
	if before.Balance < 1.3 {
		t.Errorf("the law by fraction of the link: balance %.3f; it was about 1.5", before.Balance)
	}
	t.Logf("balance: off %.2f, by fraction %.2f", off.Balance, before.Balance)
}

// TestSettle takes the middle mirror out and brings it back, with small
// files only (downloads shorter than a poll): the weights settle within
// three poll periods of each change, and do not swing once settled.
func TestSettle(t *testing.T) {
	cfg := pool3("random", true, feedback.DefaultLaw, []Change{{At: 3 * 3600, Mirror: 1}, {At: 5 * 3600, Mirror: 1, Up: true}})
	cfg.Workload.HotShare, cfg.Workload.TailShare = 0, 0
	cfg.Mirrors = []Mirror{{Name: "m1", CapacityBps: 1e9}, {Name: "m2", CapacityBps: 4e9}, {Name: "m3", CapacityBps: 10e9}}
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if limit := 4 * cfg.Poll.Seconds(); res.SettleS > limit {
		t.Errorf("settled in %.0f s; want at most %.0f (three polls after the first one that sees the change)", res.SettleS, limit)
	}
	if res.WeightStddev > 0.05 {
		t.Errorf("weights swing by %.3f once settled", res.WeightStddev)
	}
}

// TestDeterministic: one configuration, one result.
func TestDeterministic(t *testing.T) {
	a, _ := Run(pool3("geo", true, feedback.DefaultLaw, nil))
	b, _ := Run(pool3("geo", true, feedback.DefaultLaw, nil))
	if a.Balance != b.Balance || a.Requests != b.Requests || a.P95S != b.P95S {
		t.Errorf("two runs differ: %+v and %+v", a, b)
	}
}
