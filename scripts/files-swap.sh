#!/usr/bin/env bash
# scripts/files-swap.sh — p99 latency of a file-aware pool under wrk, side
# by side in interleaved rounds, for three instances on origins of the
# same size:
#   still  scanned once (no rescans);
#   walk   rescanned on a schedule (every 2 s by default), origin unchanged:
#          the tree is walked, nothing is swapped in;
#   swap   rescanned on the same schedule while a file of its origin is
#          touched every second: every rescan builds and swaps in a new
#          index.
# walk against still is what walking the tree costs; swap against walk is
# what building and swapping the index costs.
#
# Usage: scripts/files-swap.sh [-n files] [-d seconds] [-r rounds] [-s schedule]
set -euo pipefail
cd "$(dirname "$0")/.."
files=100000 duration=10 rounds=2 every="2s"
while getopts "n:d:r:s:h" o; do
  case $o in
    n) files=$OPTARG ;; d) duration=$OPTARG ;; r) rounds=$OPTARG ;; s) every=$OPTARG ;;
    *) echo "usage: $0 [-n files] [-d seconds] [-r rounds] [-s schedule]"; exit 2 ;;
  esac
done
for p in wrk python3 curl; do command -v "$p" >/dev/null || { echo "files-swap: $p missing" >&2; exit 1; }; done
. scripts/lib.sh # after the cd above: paths are from the repository root

echo "building… and writing an origin of $files files"
go build -o "$work/dispatcher" ./cmd/dispatcher
python3 - "$work/origin" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "pub", "d%03d" % (i % 1000))
    if i < 1000:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "pkg-%07d.deb" % i), "w") as f:
        f.write("x")
PY
cp -a "$work/origin" "$work/changing"
config() { # origin schedule
  cat <<JSON
{"pools": [{"name": "pub", "routes": ["/pub/*file"], "files": {"origin": "$1", "schedule": "$2"},
  "mirrors": [{"name": "a", "url": "http://a.example"}, {"name": "b", "url": "http://b.example"}, {"name": "c", "url": "http://c.example"}]}]}
JSON
}
config "$work/origin" "@every 1h" > "$work/still.json"
config "$work/origin" "@every $every" > "$work/walk.json"
config "$work/changing" "@every $every" > "$work/swap.json"
# Every rescan of the swap instance finds a changed mtime.
(while sleep 1; do touch "$work/changing/pub/d999/pkg-0000999.deb"; done) & pids+=($!)
declare -A port
for n in still walk swap; do
  port[$n]=$(freeport)
  "$work/dispatcher" -quiet -config "$work/$n.json" -listen "127.0.0.1:${port[$n]}" 2>"$work/$n.log" & pids+=($!)
  waitport "${port[$n]}"
  for _ in $(seq 600); do
    curl -s "http://127.0.0.1:${port[$n]}/api/status" | grep -q "\"origin_files\":$files" && break
    sleep 0.1
  done
done
url() { echo "http://127.0.0.1:${port[$1]}/pub/d007/pkg-0000007.deb"; }
declare -A p99 reqs
for r in $(seq "$rounds"); do
  for n in still walk swap; do
    out=$(wrk -t1 -c50 -d"${duration}s" --latency "$(url "$n")")
    p=$(echo "$out" | awk '$1 == "99%" {print $2}')
    c=$(echo "$out" | awk '/requests in/ {print $1}')
    echo "  round $r $n: $c requests, p99 $p"
    p99[$n]="${p99[$n]:-} $p"; reqs[$n]=$(( ${reqs[$n]:-0} + c ))
  done
done
scans() { curl -s "http://127.0.0.1:${port[$1]}/metrics" | awk '/^dispatcher_files_scans_total/ {print $2}'; }
echo
echo "still (scanned once):             $(( reqs[still] / (rounds * duration) )) req/s, p99 per round:${p99[still]}"
echo "walk (rescan every $every, no swap): $(( reqs[walk] / (rounds * duration) )) req/s, p99 per round:${p99[walk]} ($(scans walk) scans)"
echo "swap (rescan every $every, swapped): $(( reqs[swap] / (rounds * duration) )) req/s, p99 per round:${p99[swap]} ($(scans swap) scans)"
