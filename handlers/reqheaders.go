package handlers

// The request headers a redirect reads, in net/http's canonical form (the
// form it stores a request's headers in): r.Header[k] then skips the
// canonicalisation Header.Get and Header.Values pay on every call, some
// 90 ns for the five a proxied redirect to a file reads (TestHeaderKeysCanonical).
const (
	hdrXForwardedFor   = "X-Forwarded-For"
	hdrForwarded       = "Forwarded"
	hdrXForwardedProto = "X-Forwarded-Proto"
	hdrRange           = "Range"
	hdrAccept          = "Accept"
)

// firstValue is what Header.Get returns for the values vals of a key: the
// first, or "".
func firstValue(vals []string) string {
	if len(vals) == 0 {
		return ""
	}
	return vals[0]
}
