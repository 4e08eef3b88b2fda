#!/usr/bin/env bash
# scripts/demo-distribution.sh — send N requests to a dispatcher and count
# where the redirects go (the X-Mirror header and the Location host).
#
# Usage: scripts/demo-distribution.sh [ADDRESS|URL] [N]
#   ADDRESS  host:port of a dispatcher (the path defaults to
#            /get/php-5.2.9.tar.gz/from/a/mirror), or a whole URL
#   N        number of requests (default 1000)
# e.g. scripts/demo-distribution.sh 127.0.0.1:8080 200
#      scripts/demo-distribution.sh http://127.0.0.1:8080/pub/a.iso
set -euo pipefail
case ${1:-} in
  -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
target=${1:-127.0.0.1:8080}
n=${2:-1000}
case $target in
  http://*|https://*) url=$target ;;
  *) url="http://$target/get/php-5.2.9.tar.gz/from/a/mirror" ;;
esac
[[ $n =~ ^[0-9]+$ ]] && [ "$n" -gt 0 ] || { echo "demo-distribution: N must be a positive number, got '$n'" >&2; exit 2; }
command -v curl >/dev/null || { echo "demo-distribution: curl is needed" >&2; exit 1; }

# One request first: say clearly what is wrong when it is not a 302.
status=$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)
if [ "$status" != 302 ]; then
  if [ "$status" = 000 ]; then
    echo "demo-distribution: no answer from $url: is the dispatcher running there? (go run ./cmd/dispatcher)" >&2
  else
    echo "demo-distribution: $url answered $status, not a 302: is the path a pool route of that dispatcher?" >&2
  fi
  exit 1
fi
for _ in $(seq "$n"); do
  curl -s -o /dev/null -D - "$url" | tr -d '\r' | awk '
    NR == 1 { status = $2 }
    tolower($1) == "x-mirror:" { m = $2 }
    tolower($1) == "location:" { split($2, a, "/"); h = a[3] }
    END { if (status != 302) { print "NOT-302\t" status; exit } print m "\t" h }'
done | sort | uniq -c | sort -rn | awk -v n="$n" '
  $2 == "NOT-302" { bad += $1; next }
  { printf "%6d  %5.1f%%  %-12s %s\n", $1, 100 * $1 / n, $2, $3 }
  END { if (bad) { printf "demo-distribution: %d answers were not 302s\n", bad > "/dev/stderr"; exit 1 } }'
