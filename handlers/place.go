package handlers

import (
	"strconv"

	"github.com/dispatcher/dispatcher/strategy"
)

// Where a client is, for a pool's rules and its strategy. The databases
// place the client by its address; the client controls ?country= and
// ?as= then move it for the strategy's tiers. The rules of eligibility
// (a sponsor's only, exclude_countries) are judged on the address alone,
// before the controls: a client cannot name its way past them.

// placeClient fills in cl's location (when the route, mirrorlist or the
// download statistics need it) and AS (when a mirror of the route's pool names ASNs) from the
// databases.
func (h *Handler) placeClient(route *Route, cl *strategy.Client, ctl *controls) {
	// With ?country= the strategy needs no lookup; the rules still do.
	// Download statistics count where the address is.
	if h.locator != nil && (route.Ruled || h.downloads != nil || (route.Locate || ctl.mirrorlist) && ctl.country == "") {
		h.locator.Locate(cl)
	}
	if route.NeedsASN && h.asn != nil && cl.IP.IsValid() {
		cl.ASN = h.asn.ASN(cl.IP)
	}
}

// applyControls moves cl where ?country= and ?as= say, for the strategy.
func (h *Handler) applyControls(cl *strategy.Client, ctl *controls) {
	if ctl.country != "" && h.locator != nil {
		h.locator.LocateCountry(cl, ctl.country)
	}
	if ctl.as != 0 {
		cl.ASN = ctl.as
	}
}

// parseAS reads ?as=: "3320" or "AS3320"; 0 when it is not an AS number.
func parseAS(v string) uint32 {
	if len(v) > 2 && (v[:2] == "AS" || v[:2] == "as") {
		v = v[2:]
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0
	}
	return uint32(n)
}
