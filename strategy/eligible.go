package strategy

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
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
// have one, the mask of those that have none, and the masks of the
// places clients come from, cached as they are first seen.
type eligibility struct {
	ruled []int    // mirrors with a rule
	free  []uint64 // the mirrors without a rule, as a mask
	// places caches, per eligKey, the mask of the mirrors a client of
	// that place may get: direct-mapped, eligSlots places at most (a
	// place whose slot another took has its mask built again). Made
	// with the first ruled mirror.
	places *[eligSlots]atomic.Pointer[eligPlace]
}

// eligPlace is a place and its cached mask.
type eligPlace struct {
	key eligKey
	e   *eligMask
}

// eligKey is everything the rules read of a client: its address family,
// country, continent, and the networks and AS it is local to (localKey:
// the rules' networks and ASNs are among the pool's).
type eligKey struct {
	v4                 bool
	country, continent [2]byte
	local              localKey
}

// code2 is a two-letter code as a key (codes are two letters; anything
// else, as "", is the zero key, which no place has).
func code2(s string) [2]byte {
	if len(s) != 2 {
		return [2]byte{}
	}
	return [2]byte{s[0], s[1]}
}

// eligMask is a cached mask (nil: no mirror is excluded), and the pool
// of the mirrors it allows, once a pick has needed it: a client of a
// cached place finds its pool without hashing the mask.
type eligMask struct {
	mask []uint64
	pool atomic.Pointer[restricted]
}

// eligSlots is how many places a pool caches masks for (a power of two).
const (
	eligSlotBits = 12
	eligSlots    = 1 << eligSlotBits
)

// slot is where place k is cached.
func (k *eligKey) slot() uint64 {
	h := uint64(k.country[0])<<56 | uint64(k.country[1])<<48 | uint64(k.continent[0])<<40 | uint64(k.continent[1])<<32 | uint64(uint32(k.local.net))
	h ^= uint64(k.local.asn) * 0x9e3779b97f4a7c15
	if k.v4 {
		h ^= 0x5555555555555555
	}
	return mix(h) >> (64 - eligSlotBits)
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
		p.elig.places = new([eligSlots]atomic.Pointer[eligPlace])
	}
}

// hasRule reports whether some client could be excluded from m.
func (m *Mirror) hasRule() bool {
	return m.Only != Anywhere || len(m.ExcludeCountries) > 0 || m.IPv6Only
}

// HasRules reports whether a mirror of p has a rule of eligibility: if
// not, Eligible never restricts a client.
func (p *Pool) HasRules() bool { return len(p.elig.ruled) > 0 }

// Eligible returns the mask of the mirrors client c may be sent to,
// ANDed with c.Only when that is set (then built in buf, grown when
// shorter than the mask); it returns c.Only itself when the rules
// exclude none of the mirrors from c (always, in a pool without rules:
// no cost there). The mask of c's place is cached. The result must not
// be modified. Callers set c.Only to it.
func (p *Pool) Eligible(c *Client, buf []uint64) []uint64 {
	if !p.HasRules() {
		return c.Only
	}
	k := eligKey{v4: c.IP.Is4(), country: code2(c.Country), continent: code2(c.Continent), local: p.localOf(c)}
	slot := &p.elig.places[k.slot()]
	var e *eligMask
	if pl := slot.Load(); pl != nil && pl.key == k {
		e = pl.e
	} else {
		e = &eligMask{mask: p.eligibleMask(c)}
		slot.Store(&eligPlace{key: k, e: e})
	}
	mask := e.mask
	switch {
	case mask == nil:
		return c.Only
	case c.Only == nil:
		c.place = e
		return mask
	}
	words := len(mask)
	if cap(buf) < words {
		buf = make([]uint64, words)
	}
	out := buf[:words]
	for w := range out {
		out[w] = mask[w] & maskWord(c.Only, w, len(p.Mirrors))
	}
	return out
}

// eligibleMask builds the mask of the mirrors c may get; nil when the
// rules exclude none.
func (p *Pool) eligibleMask(c *Client) []uint64 {
	var mask []uint64
	for n, i := range p.elig.ruled {
		if p.Mirrors[i].Excluded(c) == "" {
			if mask != nil {
				mask[i/64] |= 1 << (i % 64)
			}
			continue
		}
		if mask == nil {
			// The first exclusion: the mirrors before it were admitted.
			mask = slices.Clone(p.elig.free)
			for _, j := range p.elig.ruled[:n] {
				mask[j/64] |= 1 << (j % 64)
			}
		}
	}
	return mask
}

// holders returns the pool of the mirrors c.Only allows (restrict): for
// a client whose mask is its place's cached one, the pool cached with it.
func (p *Pool) holders(c *Client) *restricted {
	e := c.place
	if e == nil || len(c.Only) == 0 || len(e.mask) == 0 || &c.Only[0] != &e.mask[0] {
		return p.restrict(c.Only)
	}
	if rp := e.pool.Load(); rp != nil {
		return rp
	}
	rp := p.restrict(c.Only)
	if rp != nil {
		e.pool.Store(rp)
	}
	return rp
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

// Preferred reports, per mirror, whether it is in the set client c's
// picks are made in first: https mirrors for a client that came over
// https, IPv6 ones for an IPv6 client, when the pool has usable ones.
func (p *Pool) Preferred(c *Client) []bool {
	in := make([]bool, len(p.Mirrors))
	for _, i := range p.set(c).idx {
		in[i] = true
	}
	return in
}
