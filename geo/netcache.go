package geo

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"

	"github.com/oschwald/maxminddb-golang/v2"
)

// netCache remembers a database's answers by network: the client's /24
// for IPv4, its /48 for IPv6, the smallest networks routed between
// autonomous systems. An answer is kept only when the database's record
// covers the whole of that network (its prefix is no longer than the
// key's), so the cached answer is the one the database gives every
// address in it: the cache never changes a lookup's result, it only saves
// the walk down the tree and the decoding of the record.
//
// It is direct-mapped with a fixed number of slots, each an atomic
// pointer: reads take no lock, a miss replaces the slot's entry, and its
// memory is bounded (netCacheSlots entries) whatever the clients.
type netCache[V any] struct {
	slots [netCacheSlots]atomic.Pointer[netEntry[V]]
}

// netCacheSlots is the number of networks a cache holds at most: 16,384
// entries of a few tens of bytes.
const (
	netCacheBits  = 14
	netCacheSlots = 1 << netCacheBits
)

type netEntry[V any] struct {
	key   uint64
	found bool
	val   V
}

// Prefix lengths of the cache's keys.
const (
	netKeyBits4 = 24
	netKeyBits6 = 48
)

// netKey returns the cache key of a (unmapped) address: its /24 or /48
// with the family in the top bit, and the key's prefix length.
func netKey(a netip.Addr) (key uint64, bits int) {
	if a.Is4() {
		b := a.As4()
		return uint64(binary.BigEndian.Uint32(b[:]) >> 8), netKeyBits4
	}
	b := a.As16()
	return 1<<63 | binary.BigEndian.Uint64(b[:8])>>16, netKeyBits6
}

func (c *netCache[V]) slot(key uint64) *atomic.Pointer[netEntry[V]] {
	return &c.slots[(key*0x9E3779B97F4A7C15)>>(64-netCacheBits)]
}

// get returns the cached answer for a, if any: the value and whether the
// database has a record for a.
func (c *netCache[V]) get(a netip.Addr) (val V, found, ok bool) {
	key, _ := netKey(a)
	if e := c.slot(key).Load(); e != nil && e.key == key {
		return e.val, e.found, true
	}
	return val, false, false
}

// put keeps the answer found, val that res gave for a, when res's network
// covers a's whole /24 or /48.
func (c *netCache[V]) put(a netip.Addr, res maxminddb.Result, found bool, val V) {
	key, bits := netKey(a)
	p := res.Prefix()
	if !p.IsValid() || p.Addr().Is4() != a.Is4() || p.Bits() > bits {
		return
	}
	c.slot(key).Store(&netEntry[V]{key: key, found: found, val: val})
}
