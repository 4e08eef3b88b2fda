#!/usr/bin/env bash
# scripts/demo-distribution.sh — send N requests to a dispatcher URL and
# count where the redirects go (the X-Mirror header and the Location host).
#
# Usage: scripts/demo-distribution.sh [URL] [N]
#   default URL http://127.0.0.1:8080/get/php-5.2.9.tar.gz/from/a/mirror, N 1000
set -euo pipefail
url=${1:-http://127.0.0.1:8080/get/php-5.2.9.tar.gz/from/a/mirror}
n=${2:-1000}
command -v curl >/dev/null || { echo "demo-distribution: curl is needed" >&2; exit 1; }
for _ in $(seq "$n"); do
  curl -s -o /dev/null -D - "$url" | tr -d '\r' | awk '
    tolower($1) == "x-mirror:" { m = $2 }
    tolower($1) == "location:" { split($2, a, "/"); h = a[3] }
    END { print m "\t" h }'
done | sort | uniq -c | sort -rn | awk -v n="$n" '{ printf "%6d  %5.1f%%  %-12s %s\n", $1, 100 * $1 / n, $2, $3 }'
