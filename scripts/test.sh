#!/usr/bin/env bash
# scripts/test.sh — install what the tests need (on Debian, as root, when it
# is missing) and run every check: gofmt, go vet, go test -race ./...
#
# Usage: scripts/test.sh [go test flags…]   e.g. scripts/test.sh -run Redis -v
set -euo pipefail
cd "$(dirname "$0")/.."

# program → Debian package
declare -A pkg=(
  [redis-server]=redis-server
  [redis-sentinel]=redis-sentinel
  [snmpsimd]=snmpsim
  [chromium]=chromium
  [wrk]=wrk
  [ab]=apache2-utils
  [nginx]=nginx-light
  [lighttpd]=lighttpd
  [pkill]=procps
  [rsync]=rsync
  [aria2c]=aria2
  [systemd-analyze]=systemd
  [apt-ftparchive]=apt-utils
  [gpg]=gnupg
  [curl]=curl
)
missing=()
for prog in "${!pkg[@]}"; do
  command -v "$prog" >/dev/null 2>&1 || [ -x "/usr/sbin/$prog" ] || missing+=("${pkg[$prog]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The packages start their daemons; the tests start their own.
    for svc in redis-server redis-sentinel nginx lighttpd; do
      (command -v service >/dev/null && service "$svc" stop >/dev/null 2>&1) || true
    done
  else
    echo "test.sh: missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]})" >&2
  fi
fi

echo "test.sh: gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
echo "test.sh: go vet ./..."
go vet ./...
echo "test.sh: go test -race ./..."
go test -race -count=1 -timeout 20m "$@" ./...
