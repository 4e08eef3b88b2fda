package main

import (
	"runtime/debug"
	"strconv"
)

// defaultGOGC is the garbage collector's target heap growth, in percent,
// when GOGC is not set. The dispatcher's live heap is small (about 10 MB
// for five pools of 1,000 mirrors) and nearly all it allocates is the
// garbage of one request, so at Go's default of 100 the collector runs
// some twenty times a second under load and marks the whole live heap
// each time: at 1,000 mirrors that is about 0.5 µs of CPU a redirect
// (scripts/loadtest.sh, README). At 400 it runs a quarter as often, for
// a heap of about five times the live data: some 50 MB at that size.
const defaultGOGC = 400

// setGCPercent sets the collector's target to defaultGOGC unless the
// GOGC environment variable says otherwise (the runtime has read it
// then), and returns the target in effect.
func setGCPercent(getenv func(string) string) int {
	if v := getenv("GOGC"); v != "" {
		if v == "off" {
			return -1
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 100 // the runtime ignores a GOGC it cannot parse
		}
		return n
	}
	debug.SetGCPercent(defaultGOGC)
	return defaultGOGC
}
