package sim

import (
	"testing"
	"time"
)

// dayAt1000 is the speed benchmark's run: 10 mirrors of 100 Gbit/s at a
// mean 1,000 requests per second, with feedback, for the given time.
func dayAt1000(d time.Duration) Config {
	ms := make([]Mirror, 10)
	for i := range ms {
		ms[i] = Mirror{Name: string(rune('a' + i)), CapacityBps: 100e9}
	}
	return Config{Mirrors: ms, Strategy: "random", Feedback: true, Seed: 1, Duration: d, Warmup: time.Hour,
		Rate: 1000, Workload: DefaultWorkload()}
}

// BenchmarkSimulatedDay runs a simulated day of 10 mirrors at 1,000
// requests per second (86 million requests): it must take under 30 s on
// one core (go test -bench SimulatedDay -benchtime 1x -cpu 1 ./sim/).
func BenchmarkSimulatedDay(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		res, err := Run(dayAt1000(24 * time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.PeakActive), "peak-downloads")
	}
}

// BenchmarkSimulatedHour is the same for an hour, to profile.
func BenchmarkSimulatedHour(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(dayAt1000(2 * time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}
