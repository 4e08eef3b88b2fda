// Command asn-mmdb builds the ASN database the dispatcher ships
// (data/asn.mmdb) from the CSV files of the npm package
// @ip-location-db/asn: lines of "first address,last address,AS
// number,organisation", IPv4 and IPv6. The records follow MaxMind's
// GeoLite2-ASN layout (autonomous_system_number,
// autonomous_system_organization), which the dispatcher's asn_db reads,
// so a GeoLite2-ASN file can take its place. scripts/update-asn.sh runs it.
//
// Usage: asn-mmdb -o data/asn.mmdb asn-ipv4.csv asn-ipv6.csv
//
//	asn-mmdb -check data/asn.mmdb 1.1.1.1=13335 …   (opens it as the
//	dispatcher does and checks each address's AS)
package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/dispatcher/dispatcher/geo"
)

func main() {
	out := flag.String("o", "asn.mmdb", "the mmdb file to write")
	names := flag.Bool("names", true, "keep the organisations' names (autonomous_system_organization)")
	check := flag.String("check", "", "check this mmdb: each argument is ADDRESS=ASN")
	flag.Parse()
	if *check != "" {
		if err := checkDB(*check, flag.Args()); err != nil {
			fmt.Fprintln(os.Stderr, "asn-mmdb:", err)
			os.Exit(1)
		}
		return
	}
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: asn-mmdb [-o FILE] [-names=false] asn-ipv4.csv [asn-ipv6.csv …]")
		os.Exit(2)
	}
	if err := build(*out, *names, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "asn-mmdb:", err)
		os.Exit(1)
	}
}

// checkDB opens path as an asn_db and checks that each ADDRESS=ASN of
// wants is found with that number.
func checkDB(path string, wants []string) error {
	db, err := geo.OpenASN(path)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, w := range wants {
		a, n, ok := strings.Cut(w, "=")
		addr, err := netip.ParseAddr(a)
		want, err2 := strconv.ParseUint(n, 10, 32)
		if !ok || err != nil || err2 != nil {
			return fmt.Errorf("-check wants ADDRESS=ASN, got %q", w)
		}
		if got := db.ASN(addr); got != uint32(want) {
			return fmt.Errorf("%s: %s is in AS%d; want AS%d", path, addr, got, want)
		}
	}
	fmt.Fprintf(os.Stderr, "asn-mmdb: %s opens and places %d addresses\n", path, len(wants))
	return nil
}

// build writes the ranges of every CSV file to out.
func build(out string, names bool, files []string) error {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: "ip-location-db-ASN",
		Description:  map[string]string{"en": "IP to AS number, from @ip-location-db/asn (CC BY 4.0: DB-IP, RouteViews, NRO)"},
		RecordSize:   32,
		// The ranges announce some reserved networks too (6to4 relays).
		IncludeReservedNetworks: true,
	})
	if err != nil {
		return err
	}
	records := 0
	for _, name := range files {
		n, err := insertCSV(tree, name, names)
		if err != nil {
			return err
		}
		records += n
	}
	if records == 0 {
		return errors.New("no ranges in the input")
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := tree.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "asn-mmdb: %d ranges written to %s\n", records, out)
	return os.Rename(tmp, out)
}

// insertCSV inserts the ranges of one CSV file and returns how many.
func insertCSV(tree *mmdbwriter.Tree, name string, names bool) (int, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	n := 0
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("%s: %w", name, err)
		}
		if len(rec) < 3 {
			return n, fmt.Errorf("%s:%d: want first,last,asn[,organisation], got %d fields", name, line, len(rec))
		}
		first, err1 := netip.ParseAddr(rec[0])
		last, err2 := netip.ParseAddr(rec[1])
		asn, err3 := strconv.ParseUint(rec[2], 10, 32)
		if err1 != nil || err2 != nil || err3 != nil || first.Is4() != last.Is4() || last.Less(first) {
			return n, fmt.Errorf("%s:%d: not a range and an AS number: %q", name, line, rec)
		}
		if asn == 0 {
			continue // not routed
		}
		data := mmdbtype.Map{mmdbtype.String(geo.ASNField): mmdbtype.Uint32(asn)}
		if names && len(rec) > 3 && rec[3] != "" {
			data[mmdbtype.String(geo.ASNOrganizationField)] = mmdbtype.String(rec[3])
		}
		err = tree.InsertRange(net.IP(first.AsSlice()), net.IP(last.AsSlice()), data)
		var aliased *mmdbwriter.AliasedNetworkError
		switch {
		case errors.As(err, &aliased):
			// Teredo and 6to4 (2001::/32, 2002::/16) are looked up as the
			// IPv4 addresses they carry: their own announcement is moot.
			continue
		case err != nil:
			return n, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		n++
	}
}
