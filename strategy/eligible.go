package strategy

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Eligibility: which clients a mirror may be sent at all, before any
// strategy weighs it. A sponsor's mirror for its own customers (Only), a
// mirror that must not serve some countries (ExcludeCountries), an
// IPv6-only mirror (IPv6Only, for IPv4 clients). The rules act through
// Client.Only, the mask file-aware pools already restrict picks with: a
// client's mask of eligible mirrors is ANDed with the file's holders, and
// every strategy picks, ranks and explains among the mirrors it allows.
// So no strategy can send a client to a mirror the rules exclude; where no
// eligible mirror is usable the request gets the fallback, else 503.

// Locality is the part of the network a mirror is restricted to (Only).
type Locality uint8

// The localities, as mirrors.json's only names them.
const (
	Anywhere Locality = iota
	OwnNetworks
	OwnASNs
	OwnCountry
	OwnContinent
)

// String is the locality's mirrors.json name.
func (l Locality) String() string {
	return [...]string{"", "network", "asn", "country", "continent"}[l]
}

// The rules Excluded names.
const (
	RuleOnly            = "only"
	RuleExcludedCountry = "excluded_country"
	RuleFamily          = "family"
)

// eligibility is what a pool precomputes for the rules: the mirrors that
// have one, and the mask of those that have none.
type eligibility struct {
	ruled []int    // mirrors with a rule
	free  []uint64 // the mirrors without a rule, as a mask
}

func (p *Pool) buildEligibility() {
	n := len(p.Mirrors)
	free := make([]uint64, (n+63)/64)
	for i := range p.Mirrors {
		if p.Mirrors[i].hasRule() {
			p.elig.ruled = append(p.elig.ruled, i)
		} else {
			free[i/64] |= 1 << (i % 64)
		}
	}
	if len(p.elig.ruled) > 0 {
		p.elig.free = free
	}
}

// hasRule reports whether some client could be excluded from m.
func (m *Mirror) hasRule() bool {
	return m.Only != Anywhere || len(m.ExcludeCountries) > 0 || m.IPv6Only
}

// MaskWords is the length of a mask over p's mirrors.
func (p *Pool) MaskWords() int { return (len(p.Mirrors) + 63) / 64 }

// Eligible returns the mask of the mirrors client c may be sent to, built
// in buf (grown when shorter than MaskWords), ANDed with c.Only when that
// is set; it returns c.Only itself when the rules exclude none of the
// mirrors from c (always, in a pool without rules: no cost there).
// Callers set c.Only to the result.
func (p *Pool) Eligible(c *Client, buf []uint64) []uint64 {
	if len(p.elig.ruled) == 0 {
		return c.Only
	}
	excluded := false
	for _, i := range p.elig.ruled {
		if p.Mirrors[i].Excluded(c) != "" {
			excluded = true
			break
		}
	}
	if !excluded {
		return c.Only
	}
	words := p.MaskWords()
	if cap(buf) < words {
		buf = make([]uint64, words)
	}
	mask := buf[:words]
	copy(mask, p.elig.free)
	for _, i := range p.elig.ruled {
		if p.Mirrors[i].Excluded(c) == "" {
			mask[i/64] |= 1 << (i % 64)
		}
	}
	if c.Only != nil {
		for w := range mask {
			mask[w] &= maskWord(c.Only, w, len(p.Mirrors))
		}
	}
	return mask
}

// Excluded returns the rule that keeps m from client c: RuleFamily for an
// IPv4 client and an IPv6-only mirror, RuleExcludedCountry for a client
// of one of its excluded countries, RuleOnly for a client outside the
// networks, ASNs, country or continent it is restricted to (a client the
// databases do not place is outside them all); "" when m may serve c.
func (m *Mirror) Excluded(c *Client) string {
	if m.IPv6Only && c.IP.Is4() {
		return RuleFamily
	}
	if c.Country != "" && slices.Contains(m.ExcludeCountries, c.Country) {
		return RuleExcludedCountry
	}
	switch m.Only {
	case OwnNetworks:
		if !m.inNetworks(c.IP) {
			return RuleOnly
		}
	case OwnASNs:
		if c.ASN == 0 || !slices.Contains(m.ASNs, c.ASN) {
			return RuleOnly
		}
	case OwnCountry:
		if c.Country == "" || m.Country != c.Country && !slices.Contains(m.Countries, c.Country) {
			return RuleOnly
		}
	case OwnContinent:
		if c.Continent == "" || m.Continent != c.Continent {
			return RuleOnly
		}
	}
	return ""
}

// ExclusionReason says in an operator's words why rule keeps m from c.
func (m *Mirror) ExclusionReason(rule string, c *Client) string {
	switch rule {
	case RuleFamily:
		return "reachable over IPv6 only; the client has an IPv4 address"
	case RuleExcludedCountry:
		return fmt.Sprintf("never serves clients in %s (exclude_countries)", c.Country)
	case RuleOnly:
		return fmt.Sprintf("serves only clients in %s; this client is %s", m.ownPlace(), clientPlace(m.Only, c))
	}
	return ""
}

// ownPlace names where m's clients must be, for ExclusionReason.
func (m *Mirror) ownPlace() string {
	switch m.Only {
	case OwnNetworks:
		ns := make([]string, len(m.Networks))
		for k, n := range m.Networks {
			ns[k] = n.String()
		}
		return "its networks " + strings.Join(ns, ", ")
	case OwnASNs:
		as := make([]string, len(m.ASNs))
		for k, a := range m.ASNs {
			as[k] = fmt.Sprintf("AS%d", a)
		}
		return strings.Join(as, ", ")
	case OwnCountry:
		return strings.Join(append([]string{m.Country}, m.Countries...), ", ")
	case OwnContinent:
		return m.Continent
	}
	return "anywhere"
}

// clientPlace names where c is, in the terms of locality l.
func clientPlace(l Locality, c *Client) string {
	switch l {
	case OwnNetworks:
		return "at " + c.IP.String()
	case OwnASNs:
		if c.ASN == 0 {
			return "in no known AS"
		}
		return fmt.Sprintf("in AS%d", c.ASN)
	case OwnCountry:
		if c.Country == "" {
			return "in no known country"
		}
		return "in " + c.Country
	case OwnContinent:
		if c.Continent == "" {
			return "on no known continent"
		}
		return "in " + c.Continent
	}
	return ""
}

// inNetworks reports whether ip is in one of m's networks.
func (m *Mirror) inNetworks(ip netip.Addr) bool {
	return m.networkBits(ip) >= 0
}

// networkBits returns the length of the longest of m's networks that
// holds ip, -1 when none does.
func (m *Mirror) networkBits(ip netip.Addr) int {
	best := -1
	for _, n := range m.Networks {
		if n.Bits() > best && n.Contains(ip) {
			best = n.Bits()
		}
	}
	return best
}

// Preferred reports whether mirror i is in the set client c's picks are
// made in first: https mirrors for a client that came over https, IPv6
// ones for an IPv6 client, when the pool has usable ones.
func (p *Pool) Preferred(c *Client, i int) bool {
	return slices.Contains(p.set(c).idx, i)
}
