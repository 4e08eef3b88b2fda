package handlers

import (
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP returns the address a request is acted on for: the TCP peer,
// unless the peer is inside one of the trusted prefixes; then the
// elements of X-Forwarded-For (or, without it, of Forwarded) are walked
// from the right past trusted addresses, and the first untrusted one is
// the client. An element that does not parse as an address ("unknown",
// "_hidden", garbage, an empty one) stops the walk: the client is then the
// last trusted hop (the peer, or the trusted address right of it), since
// no trusted proxy vouches for anything left of it. With no trusted
// prefixes the forwarding headers are never read. The zero Addr means the
// peer address itself did not parse (a unix socket, say).
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	ip, _ := resolveClient(r, trusted)
	return ip
}

// resolveClient returns ClientIP and IsSecure with one parse of the peer.
func resolveClient(r *http.Request, trusted []netip.Prefix) (netip.Addr, bool) {
	peer := parseHostPort(r.RemoteAddr)
	if !isTrusted(peer, trusted) {
		return peer, r.TLS != nil
	}
	return forwardedFor(r, peer, trusted), forwardedSecure(r)
}

// forwardedFor reads the client address from the headers of a trusted peer.
func forwardedFor(r *http.Request, peer netip.Addr, trusted []netip.Prefix) netip.Addr {
	if vals := r.Header[hdrXForwardedFor]; len(vals) > 0 {
		return walkForwarded(vals, peer, trusted, parseXFFElement)
	}
	if vals := r.Header[hdrForwarded]; len(vals) > 0 {
		return walkForwarded(vals, peer, trusted, parseForwardedElement)
	}
	return peer
}

// IsSecure reports whether the client reached us over HTTPS: directly, or
// through a trusted proxy that says so in X-Forwarded-Proto or Forwarded.
func IsSecure(r *http.Request, trusted []netip.Prefix) bool {
	_, secure := resolveClient(r, trusted)
	return secure
}

// forwardedSecure reads the scheme from the headers of a trusted peer.
func forwardedSecure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if v := r.Header[hdrXForwardedProto]; len(v) > 0 {
		last := v[len(v)-1]
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = last[i+1:]
		}
		return strings.EqualFold(strings.TrimSpace(last), "https")
	}
	for _, v := range r.Header[hdrForwarded] {
		for _, pair := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' }) {
			k, val, _ := strings.Cut(strings.TrimSpace(pair), "=")
			if strings.EqualFold(k, "proto") && strings.EqualFold(strings.Trim(val, `"`), "https") {
				return true
			}
		}
	}
	return false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// walkForwarded walks comma-separated header values from the right, from
// the trusted peer, past trusted addresses: the first untrusted address
// is the client. An element that does not parse stops the walk at the
// last trusted hop; so does the end of the list.
func walkForwarded(vals []string, peer netip.Addr, trusted []netip.Prefix, parse func(string) netip.Addr) netip.Addr {
	hop := peer
	for i := len(vals) - 1; i >= 0; i-- {
		v := vals[i]
		for {
			elem := v
			j := strings.LastIndexByte(v, ',')
			if j >= 0 {
				elem, v = v[j+1:], v[:j]
			}
			a := parse(strings.TrimSpace(elem))
			switch {
			case !a.IsValid():
				return hop
			case !isTrusted(a, trusted):
				return a
			}
			hop = a
			if j < 0 {
				break
			}
		}
	}
	return hop
}

// parseXFFElement accepts "1.2.3.4", "2001:db8::1", "[2001:db8::1]",
// "1.2.3.4:5678" and "[2001:db8::1]:5678".
func parseXFFElement(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return normalize(a)
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return normalize(a)
		}
	}
	return parseHostPort(s)
}

// parseForwardedElement reads the for= parameter of one RFC 7239 element.
func parseForwardedElement(s string) netip.Addr {
	for _, pair := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if ok && strings.EqualFold(k, "for") {
			return parseXFFElement(strings.Trim(v, `"`))
		}
	}
	return netip.Addr{}
}

func parseHostPort(s string) netip.Addr {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}
	}
	return normalize(ap.Addr())
}

// normalize unmaps IPv4-mapped IPv6 addresses and drops zones, so that
// "::ffff:1.2.3.4" and "1.2.3.4" are one client.
func normalize(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}
