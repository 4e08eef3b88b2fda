#!/usr/bin/env bash
# scripts/update-asn.sh — rebuild data/asn.mmdb, the ASN database the
# dispatcher ships for asn_db, from the npm package @ip-location-db/asn
# (CSV ranges; data CC BY 4.0 by DB-IP, RouteViews and the NRO: see
# data/README.md). cmd/asn-mmdb writes it in MaxMind's GeoLite2-ASN
# layout; the new file must open as an asn_db and place a few well-known
# addresses in their AS before it replaces the old one. Then reload the
# dispatchers (kill -HUP, or POST /api/reload) to use it.
#
# Usage: scripts/update-asn.sh [version]   (default: latest)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v npm >/dev/null || { echo "update-asn: npm is needed (apt-get install npm)" >&2; exit 1; }
version=${1:-latest}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@ip-location-db/asn@$version" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work"
for f in asn-ipv4.csv asn-ipv6.csv; do
  [ -s "$work/package/$f" ] || { echo "update-asn: the package has no $f" >&2; exit 1; }
done
go run ./cmd/asn-mmdb -names=false -o "$work/asn.mmdb" "$work/package/asn-ipv4.csv" "$work/package/asn-ipv6.csv"
# The check opens it with the dispatcher's own reader and looks up
# addresses whose AS is not about to change.
go run ./cmd/asn-mmdb -check "$work/asn.mmdb" 1.1.1.1=13335 8.8.8.8=15169 2001:4860:4860::8888=15169
for f in DBIP-LICENSE ROUTEVIEWS-LICENSE NRO_LICENSE; do cp "$work/package/$f" "data/$f"; done
cp "$work/package/MODIFICATIONS" data/ASN-MODIFICATIONS
mv "$work/asn.mmdb" data/asn.mmdb.new
mv data/asn.mmdb.new data/asn.mmdb
echo "update-asn: data/asn.mmdb is now $(jq -r .version "$work/package/package.json" 2>/dev/null || echo "$version")"
