package handlers

import (
	"net/http"
	"testing"
)

// TestHeaderKeysCanonical: the keys read straight from a request's
// header map are in the form net/http stores them in; one that is not
// would never be found.
func TestHeaderKeysCanonical(t *testing.T) {
	for _, k := range []string{hdrXForwardedFor, hdrForwarded, hdrXForwardedProto, hdrRange, hdrAccept} {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("%q is stored as %q", k, c)
		}
	}
	h := http.Header{}
	h.Add("range", "bytes=5-")
	if got := firstValue(h[hdrRange]); got != h.Get("Range") {
		t.Errorf("firstValue = %q; Header.Get gives %q", got, h.Get("Range"))
	}
	if got := firstValue(nil); got != "" {
		t.Errorf("firstValue(nil) = %q", got)
	}
}
