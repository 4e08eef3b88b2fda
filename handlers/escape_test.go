package handlers

import (
	"html"
	"math/rand/v2"
	"testing"
)

// escapeRef is appendEscaped byte by byte, as the rule says it.
func escapeRef(s string, query bool) string {
	const hex = "0123456789ABCDEF"
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if allowed(c, query) || c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			out = append(out, c)
		} else {
			out = append(out, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(out)
}

// TestEscapers: the escapers that copy runs whole write what the rules
// say, byte for byte: percent-encoding as allowed says, HTML as
// html.EscapeString does, and htmlEscapedLen is the length written.
func TestEscapers(t *testing.T) {
	var inputs []string
	for c := range 256 {
		inputs = append(inputs, string([]byte{byte(c)}), "a"+string([]byte{byte(c)})+"b")
	}
	const alphabet = "aZ09-._~/%%%fF4g?&'\"<>= #\x00\x7f\x80\xff"
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		inputs = append(inputs, string(b))
	}
	inputs = append(inputs, "", "/pub/x.iso", "%41%zz%4", "http://m.example/a&b'c")
	for _, s := range inputs {
		for _, query := range []bool{false, true} {
			if got, want := string(appendEscaped([]byte("x"), s, query)), "x"+escapeRef(s, query); got != want {
				t.Fatalf("appendEscaped(%q, query=%v) = %q; want %q", s, query, got, want)
			}
		}
		want := html.EscapeString(s)
		if got := string(appendHTMLEscaped([]byte("x"), s)); got != "x"+want {
			t.Fatalf("appendHTMLEscaped(%q) = %q; want %q", s, got, "x"+want)
		}
		if n := htmlEscapedLen(s); n != len(want) {
			t.Fatalf("htmlEscapedLen(%q) = %d; want %d", s, n, len(want))
		}
	}
}
