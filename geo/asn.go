package geo

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/oschwald/maxminddb-golang/v2"
)

// The fields of an ASN database's records, in MaxMind's GeoLite2-ASN
// layout, which the shipped database (data/asn.mmdb) follows too.
const (
	ASNField             = "autonomous_system_number"
	ASNOrganizationField = "autonomous_system_organization"
)

// ASNDB is an open mmdb of autonomous system numbers. It is safe for
// concurrent use.
type ASNDB struct {
	r    *maxminddb.Reader
	Path string
	Type string // the database_type of its metadata
	// numbers caches the AS number of each record read, by its offset: a
	// database has one record per AS (tens of thousands), and decoding
	// one costs an allocation.
	numbers sync.Map // uintptr → uint32
	cached  atomic.Int32
	// byNet keeps the numbers of the networks asked about lately.
	byNet netCache[uint32]
}

// maxCachedASNs bounds numbers (a database with more records decodes
// the rest per lookup).
const maxCachedASNs = 1 << 18

// asnRecord decodes the number alone: the organisation is skipped.
type asnRecord struct {
	ASN uint32 `maxminddb:"autonomous_system_number"`
}

// OpenASN opens an ASN mmdb and checks that its records have the
// GeoLite2-ASN number: a country database given as asn_db is refused.
func OpenASN(path string) (*ASNDB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("asn_db %s: %w", path, err)
	}
	var probe map[string]any
	found := false
	for _, a := range []string{"1.1.1.1", "8.8.8.8", "193.0.0.1", "2001:4860::1", "9.9.9.9"} {
		res := r.Lookup(netip.MustParseAddr(a))
		if !res.Found() {
			continue
		}
		if err := res.Decode(&probe); err != nil {
			r.Close()
			return nil, fmt.Errorf("asn_db %s: records do not decode: %w", path, err)
		}
		found = true
		break
	}
	if found {
		if _, ok := probe[ASNField]; !ok {
			r.Close()
			return nil, fmt.Errorf("asn_db %s: its records have no %s (is it a country or city database?)", path, ASNField)
		}
	}
	return &ASNDB{r: r, Path: path, Type: r.Metadata.DatabaseType}, nil
}

// Close releases the file.
func (d *ASNDB) Close() error { return d.r.Close() }

// ASN returns the autonomous system of addr, 0 when the database does
// not know it.
func (d *ASNDB) ASN(addr netip.Addr) uint32 {
	addr = addr.Unmap()
	if n, _, ok := d.byNet.get(addr); ok {
		return n
	}
	res := d.r.Lookup(addr)
	if !res.Found() {
		d.byNet.put(addr, res, false, 0)
		return 0
	}
	n, ok := d.number(res)
	if ok {
		d.byNet.put(addr, res, true, n)
	}
	return n
}

// number decodes the AS number of a found record, through numbers.
func (d *ASNDB) number(res maxminddb.Result) (uint32, bool) {
	off := res.Offset()
	if v, ok := d.numbers.Load(off); ok {
		return v.(uint32), true
	}
	var rec asnRecord
	if err := res.Decode(&rec); err != nil {
		return 0, false
	}
	if d.cached.Add(1) <= maxCachedASNs {
		d.numbers.Store(off, rec.ASN)
	}
	return rec.ASN, true
}
