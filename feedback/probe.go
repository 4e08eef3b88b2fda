package feedback

import (
	"context"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"net/url"
	"time"
)

// ProbeFunc checks one mirror at url; nil means healthy.
type ProbeFunc func(ctx context.Context, url string) error

// HTTPProbe returns a ProbeFunc that sends method (GET or HEAD) and takes
// any answer below 400 as healthy. Redirects are not followed: a mirror
// that answers at all is up.
func HTTPProbe(client *http.Client, method string) ProbeFunc {
	return func(ctx context.Context, u string) error {
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "dispatcher-health-probe")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s %s: no answer within %s", method, u, time.Since(start).Round(time.Millisecond))
			}
			return fmt.Errorf("%s %s: %w", method, u, err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // draining for keep-alive only
		if resp.StatusCode >= 400 {
			return fmt.Errorf("%s %s: status %d", method, u, resp.StatusCode)
		}
		return nil
	}
}

// probeURL is where a mirror is probed: its scheme and host with the
// health path (a mirror URL may point at a file or a sub-directory).
func probeURL(mirrorURL, path string) string {
	u, err := url.Parse(mirrorURL)
	if err != nil {
		return mirrorURL
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: path}).String()
}

// healthState is the probe history of one mirror, as Varnish keeps it: the
// last window results as bits, up while at least threshold passed.
type healthState struct {
	bits    uint64 // bit i set: the i-th most recent probe passed
	up      bool
	upSince time.Time // zero: up since the dispatcher started (no ramp)
	last    time.Time
	err     string
}

// newHealthState starts up with a full window of passes, so that a restart
// of the dispatcher does not take every mirror out until probes fill in.
func newHealthState() healthState {
	return healthState{bits: ^uint64(0), up: true}
}

// record adds one probe result and reports whether up changed.
func (h *healthState) record(ok bool, errMsg string, window, threshold int, now time.Time) bool {
	mask := uint64(1)<<window - 1
	if window >= 64 {
		mask = ^uint64(0)
	}
	h.bits <<= 1
	if ok {
		h.bits |= 1
	}
	h.bits &= mask
	h.last = now
	h.err = errMsg
	up := bits.OnesCount64(h.bits) >= threshold
	if up == h.up {
		return false
	}
	h.up = up
	if up {
		h.upSince = now
	}
	return true
}
