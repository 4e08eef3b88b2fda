package handlers

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLocation checks that whatever the request path and query, the
// Location starts with the mirror URL, stays on the mirror's host, and
// holds no byte that could end a header or add a fragment.
func FuzzLocation(f *testing.F) {
	for _, s := range []string{"/get/x.iso", "//evil.example", "/\\evil", "/a/../b", "/%0d%0a", "/@evil", "/x#y", "/%zz", "/ü"} {
		f.Add(s, "a=1&mirror=x")
	}
	f.Fuzz(func(t *testing.T, path, query string) {
		u := &url.URL{Path: path}
		for _, c := range []struct {
			base    string
			decoded bool
		}{{"http://m.example", false}, {"https://m.example/pub/", false}, {"http://m.example", true}, {"https://m.example/pub/", true}} {
			base := c.base
			u.RawQuery = query
			req, ok := newReqPath(u, c.decoded)
			if !ok {
				continue
			}
			loc := req.appendLocation(nil, base, true)
			s := string(loc)
			if !strings.HasPrefix(s, strings.TrimSuffix(base, "/")+"/") {
				t.Fatalf("Location %q does not start with %q", s, base)
			}
			if strings.ContainsAny(s, "\r\n\x00 #\\\"<>") {
				t.Fatalf("Location %q has a forbidden byte", s)
			}
			pu, err := url.Parse(s)
			if err != nil {
				t.Fatalf("Location %q does not parse: %v", s, err)
			}
			if pu.Host != "m.example" || pu.User != nil {
				t.Fatalf("Location %q goes to host %q", s, pu.Host)
			}
			for _, seg := range strings.Split(pu.Path, "/") {
				if seg == ".." {
					t.Fatalf("Location %q has a dot segment", s)
				}
			}
			// A file-aware pool asks the mirror for the file it looked up.
			basePath := strings.TrimSuffix(strings.TrimPrefix(base, "https://m.example"), "/")
			basePath = strings.TrimPrefix(basePath, "http://m.example")
			if want := basePath + "/" + strings.TrimLeft(path, "/"); c.decoded && utf8.ValidString(path) && pu.Path != want {
				t.Fatalf("Location %q names the file %q; want %q", s, pu.Path, want)
			}
		}
	})
}

// FuzzClientIP checks that forwarding headers are believed only from a
// trusted peer, and that the answer is always the peer or an address that
// stands in the header.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:80", "203.0.113.9, 10.0.0.2", `for=198.51.100.1;proto=https`)
	f.Add("192.0.2.1:80", "203.0.113.9", "")
	f.Add("[::1]:80", "garbage, [2001:db8::1]:8080", `for="[2001:db8::2]:1"`)
	f.Add("10.0.0.1:80", "", "for=unknown, for=_hidden")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, remote, xff, fwd string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		if fwd != "" {
			r.Header.Set("Forwarded", fwd)
		}
		got := ClientIP(r, trusted)
		peer := parseHostPort(remote)
		if got == peer {
			return
		}
		if !isTrusted(peer, trusted) {
			t.Fatalf("untrusted peer %q: ClientIP = %v; want the peer", remote, got)
		}
		// got must stand in the headers with only trusted, parsing
		// addresses right of it: a trusted hop vouched for it.
		elems, parse := splitElements(xff), parseXFFElement
		if xff == "" {
			elems, parse = splitElements(fwd), parseForwardedElement
		}
		for k := len(elems) - 1; k >= 0; k-- {
			a := parse(strings.TrimSpace(elems[k]))
			if a == got {
				return
			}
			if !a.IsValid() || !isTrusted(a, trusted) {
				t.Fatalf("ClientIP = %v, but %q right of it is not a trusted hop (headers %q %q)", got, elems[k], xff, fwd)
			}
		}
		t.Fatalf("ClientIP = %v does not stand in the headers %q %q", got, xff, fwd)
	})
}

func splitElements(h string) []string {
	if h == "" {
		return nil
	}
	return strings.Split(h, ",")
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name, remote, xff, fwd, want string
	}{
		{"no proxy", "192.0.2.1:5", "", "", "192.0.2.1"},
		{"untrusted peer spoofs", "192.0.2.1:5", "203.0.113.9", "", "192.0.2.1"},
		{"trusted proxy", "10.0.0.1:5", "203.0.113.9", "", "203.0.113.9"},
		{"right-most untrusted", "10.0.0.1:5", "1.1.1.1, 203.0.113.9, 10.0.0.7", "", "203.0.113.9"},
		{"garbage stops the walk", "10.0.0.1:5", "203.0.113.9, not-an-ip", "", "10.0.0.1"},
		{"_hidden stops the walk", "10.0.0.1:5", "85.214.0.1, _hidden", "", "10.0.0.1"},
		{"unknown stops the walk", "10.0.0.1:5", "85.214.0.1, unknown", "", "10.0.0.1"},
		{"unknown after a trusted hop", "10.0.0.1:5", "85.214.0.1, unknown, 10.0.0.9", "", "10.0.0.9"},
		{"empty element stops the walk", "10.0.0.1:5", "85.214.0.1, , 10.0.0.9", "", "10.0.0.9"},
		{"forwarded unknown", "10.0.0.1:5", "", "for=85.214.0.1, for=unknown", "10.0.0.1"},
		{"forwarded _hidden", "10.0.0.1:5", "", `for=85.214.0.1, for="_hidden";proto=https`, "10.0.0.1"},
		{"forwarded without for", "10.0.0.1:5", "", "for=85.214.0.1, proto=https", "10.0.0.1"},
		{"all trusted", "10.0.0.1:5", "10.0.0.2", "", "10.0.0.2"},
		{"with port", "10.0.0.1:5", "203.0.113.9:4444", "", "203.0.113.9"},
		{"forwarded", "10.0.0.1:5", "", `for=192.0.2.60;proto=http;by=203.0.113.43`, "192.0.2.60"},
		{"forwarded v6", "10.0.0.1:5", "", `for="[2001:db8:cafe::17]:4711"`, "2001:db8:cafe::17"},
		{"mapped v4", "[::ffff:192.0.2.1]:5", "", "", "192.0.2.1"},
		{"unix socket", "@", "203.0.113.9", "", "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if tt.fwd != "" {
				r.Header.Set("Forwarded", tt.fwd)
			}
			if got := ClientIP(r, trusted).String(); got != tt.want {
				t.Errorf("ClientIP(%q, xff %q, fwd %q) = %s; want %s", tt.remote, tt.xff, tt.fwd, got, tt.want)
			}
		})
	}
}

func TestIsSecure(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		remote, proto, fwd string
		want               bool
	}{
		{"10.0.0.1:1", "https", "", true},
		{"10.0.0.1:1", "http", "", false},
		{"192.0.2.1:1", "https", "", false},
		{"10.0.0.1:1", "", "for=1.2.3.4;proto=https", true},
	}
	for _, tt := range tests {
		r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
		if tt.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tt.proto)
		}
		if tt.fwd != "" {
			r.Header.Set("Forwarded", tt.fwd)
		}
		if got := IsSecure(r, trusted); got != tt.want {
			t.Errorf("IsSecure(%q, proto %q, fwd %q) = %v; want %v", tt.remote, tt.proto, tt.fwd, got, tt.want)
		}
	}
}
