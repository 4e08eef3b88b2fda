package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuild builds an mmdb from CSV ranges as the package ships them
// (quoted names, AS 0, a reserved network, Teredo), opens it as asn_db,
// and checks the addresses; a bad line names the file and line.
func TestBuild(t *testing.T) {
	dir := t.TempDir()
	v4 := filepath.Join(dir, "asn-ipv4.csv")
	v6 := filepath.Join(dir, "asn-ipv6.csv")
	os.WriteFile(v4, []byte("1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n"+
		"10.0.0.0,10.255.255.255,0,private\n"+
		"192.88.99.0,192.88.99.255,6939,Hurricane Electric\n"+
		"198.51.100.0,198.51.100.127,64500,Test\n"), 0o644)
	os.WriteFile(v6, []byte("2001::,2001:0:ffff:ffff:ffff:ffff:ffff:ffff,6939,Teredo\n"+
		"2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,64501,Doc\n"), 0o644)
	out := filepath.Join(dir, "asn.mmdb")
	for _, names := range []bool{true, false} {
		if err := build(out, names, []string{v4, v6}); err != nil {
			t.Fatal(err)
		}
		if err := checkDB(out, []string{"1.0.0.7=13335", "10.1.1.1=0", "192.88.99.1=6939", "198.51.100.9=64500",
			"198.51.100.200=0", "2001:db8::1=64501", "::ffff:1.0.0.1=13335"}); err != nil {
			t.Error(err)
		}
	}
	if err := checkDB(out, []string{"1.0.0.7=1"}); err == nil || !strings.Contains(err.Error(), "1.0.0.7 is in AS13335; want AS1") {
		t.Errorf("a wrong AS: %v", err)
	}
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("1.0.0.0,1.0.0.255,13335\n1.0.1.0,1.0.0.255,1\n"), 0o644)
	if err := build(out, false, []string{bad}); err == nil || !strings.Contains(err.Error(), "bad.csv:2: not a range") {
		t.Errorf("a range that ends before it starts: %v", err)
	}
}
