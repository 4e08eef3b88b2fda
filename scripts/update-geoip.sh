#!/usr/bin/env bash
# scripts/update-geoip.sh — refresh data/geo-whois-asn-country.mmdb from the
# npm package @ip-location-db/geo-whois-asn-country-mmdb (CC0-1.0; data CC BY
# 4.0 by the NRO, see data/README.md). The new file must open and place a
# few well-known addresses before it replaces the old one; then reload the
# dispatchers (kill -HUP, or POST /api/reload) to use it.
#
# Usage: scripts/update-geoip.sh [version]   (default: latest)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v npm >/dev/null || { echo "update-geoip: npm is needed (apt-get install npm)" >&2; exit 1; }
version=${1:-latest}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@ip-location-db/geo-whois-asn-country-mmdb@$version" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work"
new="$work/package/geo-whois-asn-country.mmdb"
[ -s "$new" ] || { echo "update-geoip: the package has no geo-whois-asn-country.mmdb" >&2; exit 1; }
# Check the file with the dispatcher's own reader (-check opens it and decodes a record).
go run ./cmd/dispatcher -check -config mirrors.json -geoip "$new"
cp "$work/package/NRO_LICENSE" data/NRO_LICENSE
mv "$new" data/geo-whois-asn-country.mmdb.new
mv data/geo-whois-asn-country.mmdb.new data/geo-whois-asn-country.mmdb
echo "update-geoip: data/geo-whois-asn-country.mmdb is now $(jq -r .version "$work/package/package.json" 2>/dev/null || echo "$version")"
