package jsonlog

import (
	"testing"
	"time"
)

// TestStampIsRFC3339Nano compares appendStamp with AppendFormat over
// fractions with and without trailing zeros, across second boundaries,
// in UTC, a zone east and west, and a zone change within one second.
func TestStampIsRFC3339Nano(t *testing.T) {
	var s stamps
	zones := []*time.Location{time.UTC, time.FixedZone("east", 5*3600+1800), time.FixedZone("west", -7*3600), time.Local}
	base := time.Date(2026, 12, 2, 23, 59, 58, 0, time.UTC)
	for _, loc := range zones {
		for _, ns := range []int{0, 1, 10, 100000, 120000000, 999999999, 500000000, 123456789, 1000000000, 1500000000, 2000000001} {
			at := base.Add(time.Duration(ns)).In(loc)
			want := at.AppendFormat(nil, time.RFC3339Nano)
			if got := s.appendStamp(nil, at); string(got) != string(want) {
				t.Errorf("%v: appendStamp = %s, AppendFormat = %s", at, got, want)
			}
		}
	}
	// Years AppendFormat writes in another width.
	for _, at := range []time.Time{time.Date(-3, 1, 1, 0, 0, 0, 5, time.UTC), time.Date(12345, 1, 1, 0, 0, 0, 5, time.UTC), {}} {
		if got, want := s.appendStamp(nil, at), at.AppendFormat(nil, time.RFC3339Nano); string(got) != string(want) {
			t.Errorf("%v: appendStamp = %s, AppendFormat = %s", at, got, want)
		}
	}
}

func BenchmarkStamp(b *testing.B) {
	var s stamps
	now := time.Now()
	b.Run("appendStamp", func(b *testing.B) {
		buf := make([]byte, 0, 64)
		b.ReportAllocs()
		for b.Loop() {
			buf = s.appendStamp(buf[:0], now)
		}
	})
	b.Run("AppendFormat", func(b *testing.B) {
		buf := make([]byte, 0, 64)
		b.ReportAllocs()
		for b.Loop() {
			buf = now.AppendFormat(buf[:0], time.RFC3339Nano)
		}
	})
}
