package geo

import (
	"net/netip"
	"strings"
	"testing"
)

// TestShippedASNDatabase opens data/asn.mmdb as asn_db is opened and
// places well-known addresses in their AS, IPv4, IPv6 and IPv4-mapped.
func TestShippedASNDatabase(t *testing.T) {
	db, err := OpenASN("../data/asn.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tt := range []struct {
		ip  string
		asn uint32
	}{
		{"8.8.8.8", 15169},                  // Google
		{"1.1.1.1", 13335},                  // Cloudflare
		{"193.0.6.139", 3333},               // RIPE NCC
		{"202.12.29.205", 4608},             // APNIC
		{"2001:67c:2e8:22::c100:68b", 3333}, // RIPE NCC over IPv6
		{"::ffff:8.8.8.8", 15169},           // IPv4-mapped
		{"2002:808:808::1", 15169},          // 6to4 carries 8.8.8.8
	} {
		if got := db.ASN(netip.MustParseAddr(tt.ip)); got != tt.asn {
			t.Errorf("ASN(%s) = %d; want %d", tt.ip, got, tt.asn)
		}
	}
	if got := db.ASN(netip.MustParseAddr("10.1.2.3")); got != 0 {
		t.Errorf("a private address is in AS%d; want 0", got)
	}
}

// TestOpenASNRefusesCountryDB: a country database given as asn_db is
// refused with a message that says what is wrong.
func TestOpenASNRefusesCountryDB(t *testing.T) {
	_, err := OpenASN("../data/geo-whois-asn-country.mmdb")
	if err == nil || !strings.Contains(err.Error(), "no autonomous_system_number") {
		t.Fatalf("OpenASN(country db) = %v; want a refusal naming autonomous_system_number", err)
	}
	if _, err := OpenASN("../data/none.mmdb"); err == nil || !strings.Contains(err.Error(), "asn_db ../data/none.mmdb") {
		t.Fatalf("OpenASN(missing) = %v", err)
	}
}
