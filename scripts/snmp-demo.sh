#!/usr/bin/env bash
# scripts/snmp-demo.sh — watch SNMP feedback move the weights.
#
# Starts snmpsimd with two simulated mirrors, mirror-a on a 1 Gbit/s link
# and mirror-b on 100 Mbit/s, whose outbound traffic changes every 30 s (the
# agent restarts with new rates, which the poller also has to survive), and
# a dispatcher polling them every 2 s. The weights follow spare bandwidth
# (headroom × capacity): at the same utilisation, the 1 Gbit/s mirror gets
# ten times the weight of the 100 Mbit/s one. It prints the measured bandwidth and effective weight of each mirror
# every 2 s, and where 200 redirects go. Open http://127.0.0.1:PORT/status to
# watch the same on the dashboard. Ctrl-C stops everything.
#
# Usage: scripts/snmp-demo.sh [rounds]   (default 4 rounds of 30 s)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-4}
for p in snmpsimd python3 curl; do
  command -v "$p" >/dev/null || { echo "snmp-demo: $p missing (apt-get install snmpsim curl)" >&2; exit 1; }
done
work=$(mktemp -d)
chmod 755 "$work"; mkdir -p "$work/data" "$work/cache"; chmod 755 "$work/data"; chmod 777 "$work/cache"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
freeport() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }

snmp_port=$(freeport SOCK_DGRAM)
http_port=$(freeport SOCK_STREAM)
# agent COMMUNITY OUT_MBPS SPEED_MBPS: one interface eth0 (index 3) of
# SPEED_MBPS sending OUT_MBPS.
agent() {
  cat > "$work/data/$1.snmprec" <<REC
1.3.6.1.2.1.1.3.0|67:numeric|rate=100,initial=1000
1.3.6.1.2.1.31.1.1.1.1.3|4|eth0
1.3.6.1.2.1.31.1.1.1.6.3|70:numeric|rate=1250000,initial=0
1.3.6.1.2.1.31.1.1.1.10.3|70:numeric|rate=$(( $2 * 125000 )),initial=0
1.3.6.1.2.1.31.1.1.1.15.3|66|$3
REC
  chmod 644 "$work/data/$1.snmprec"
}
snmpsim_pid=""
start_agents() {
  [ -n "$snmpsim_pid" ] && kill "$snmpsim_pid" 2>/dev/null && wait "$snmpsim_pid" 2>/dev/null || true
  agent mirror-a "$1" 1000; agent mirror-b "$2" 100
  user=(); [ "$(id -u)" = 0 ] && user=(--process-user=nobody --process-group=nogroup)
  snmpsimd --data-dir="$work/data" --cache-dir="$work/cache" --agent-udpv4-endpoint="127.0.0.1:$snmp_port" "${user[@]}" >"$work/snmpsim.log" 2>&1 &
  snmpsim_pid=$!; pids+=("$snmpsim_pid")
  echo "== agents: mirror-a sends $1 of 1000 Mbit/s, mirror-b sends $2 of 100 Mbit/s"
}

cat > "$work/mirrors.json" <<JSON
{"listen": "127.0.0.1:$http_port",
 "feedback": {"schedule": "@every 2s", "timeout": "500ms", "retries": 0, "stale_after": "20s"},
 "pools": [{"name": "files", "routes": ["/get/*file"], "strategy": "random", "mirrors": [
   {"name": "mirror-a", "url": "http://a.example", "snmp": {"target": "127.0.0.1:$snmp_port", "community": "mirror-a", "interface": "eth0"}},
   {"name": "mirror-b", "url": "http://b.example", "snmp": {"target": "127.0.0.1:$snmp_port", "community": "mirror-b", "interface": "eth0"}}]}]}
JSON
go build -o "$work/dispatcher" ./cmd/dispatcher
start_agents 100 70
"$work/dispatcher" -config "$work/mirrors.json" -quiet 2>"$work/dispatcher.log" & pids+=($!)
sleep 2
echo "dashboard: http://127.0.0.1:$http_port/status"

show() {
  curl -s "http://127.0.0.1:$http_port/api/status" | python3 -c '
import json, sys
st = json.load(sys.stdin)
for m in st["pools"][0]["mirrors"]:
    print("  %-9s %7.1f of %5.0f Mbit/s  util %5.1f%%  effective weight %.3f  %s" % (
        m["name"], m["bandwidth_bps"] / 1e6, m["capacity_bps"] / 1e6, 100 * m["utilization"], m["effective_weight"], m["poll_error"][:60]))'
}
split() {
  for _ in $(seq 200); do curl -s -o /dev/null -w '%header{x-mirror}\n' "http://127.0.0.1:$http_port/get/x.iso"; done |
    sort | uniq -c | awk '{ printf "  %s: %d of 200 redirects\n", $2, $1 }'
}
rates=("100 70" "700 10" "500 50" "900 5")
for r in $(seq 0 $((rounds - 1))); do
  [ "$r" -gt 0 ] && start_agents ${rates[$((r % 4))]}
  for _ in $(seq 15); do sleep 2; date +%T; show; done
  split
done
