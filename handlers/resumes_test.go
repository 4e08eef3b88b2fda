package handlers

import "testing"

func TestResumes(t *testing.T) {
	for rng, want := range map[string]bool{
		"": false, "bytes=0-": false, "bytes=0-99": false, "bytes=0-99,200-": false, " bytes=1-": false,
		"bytes=1-": true, "bytes=1000-1999": true, "bytes=-500": true, "bytes= 7-": true, "bytes=100-,0-5": true,
		"bytes=x-": false, "items=5-": false, "bytes=": false,
	} {
		if got := resumes(rng); got != want {
			t.Errorf("resumes(%q) = %v; want %v", rng, got, want)
		}
	}
}
