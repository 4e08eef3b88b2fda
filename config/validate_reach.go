package config

import (
	"fmt"
	"net/netip"
)

// The keys that say which clients a mirror may serve (networks, asn,
// only, exclude_countries, ipv4/ipv6), checked and parsed.

// validateReach checks the keys that say which clients a mirror serves,
// and parses its networks.
func (m *Mirror) validateReach(c *collector, path string) {
	if m.IPv4 != nil && m.IPv6 != nil && !*m.IPv4 && !*m.IPv6 {
		c.add(path, "ipv4 and ipv6 are both false: no client could reach the mirror")
	}
	for k, s := range m.Networks {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			c.add(fmt.Sprintf("%s.networks[%d]", path, k), "must be a CIDR prefix such as \"192.0.2.0/24\" or \"2001:db8::/32\", got %q", s)
			continue
		}
		m.Nets = append(m.Nets, netip.PrefixFrom(p.Addr().Unmap(), unmappedBits(p)).Masked())
	}
	for k, n := range m.ASN {
		if n < 1 || n > MaxASN {
			c.add(fmt.Sprintf("%s.asn[%d]", path, k), "must be an AS number between 1 and %d, got %d", int64(MaxASN), n)
		}
	}
	for k, cc := range m.ExcludeCountries {
		if !isCountryCode(cc) {
			c.add(fmt.Sprintf("%s.exclude_countries[%d]", path, k), "must be an ISO 3166-1 alpha-2 code, got %q", cc)
		}
	}
	switch m.Only {
	case "":
	case OnlyNetwork:
		if len(m.Networks) == 0 {
			c.add(path+".only", "is network, but the mirror has no networks")
		}
	case OnlyASN:
		if len(m.ASN) == 0 {
			c.add(path+".only", "is asn, but the mirror has no asn")
		}
	case OnlyCountry:
		if m.Country == "" && len(m.Countries) == 0 {
			c.add(path+".only", "is country, but the mirror has no country or countries")
		}
	case OnlyContinent:
		if m.Continent == "" && m.Country == "" {
			c.add(path+".only", "is continent, but the mirror has no continent or country")
		}
	default:
		c.add(path+".only", "must be network, asn, country or continent, got %q", m.Only)
	}
}

// unmappedBits is p's length as a prefix of its unmapped address:
// ::ffff:192.0.2.0/120 is 192.0.2.0/24.
func unmappedBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return max(p.Bits()-96, 0)
	}
	return p.Bits()
}
