#!/usr/bin/env bash
# scripts/loadtest.sh — measure the dispatcher side by side with nginx
# `return 302` and a bare gin handler (cmd/gin-baseline), on loopback.
#
# Usage: scripts/loadtest.sh [-d seconds] [-c connections] [-r rounds]
#                            [-w warm-up seconds] [-n ab requests]
#                            [-s sizes [-q]] [-u]
#   -d  seconds of wrk per server and round (default 10)
#   -r  rounds (default 2)
#   -w  at most this many seconds of wrk warm-up before every row, not
#       counted, 0 for none (default 10): a second at a time until a second
#       costs the server fewer than 250 page faults (1 MB of memory it
#       maps again)
#   -n  requests of the ab run per server, 0 for no ab run (default 20000)
#   -s  scale: also pools of these sizes, comma-separated (e.g. 100,1000):
#       random, roundrobin, iphash and geo pools of N generated mirrors, and
#       a file-aware random pool, behind a trusted proxy (X-Forwarded-For
#       of a German address) with the shipped geo database, one dispatcher
#       per size and one more without the access log (rows "-quiet"),
#       as bare gin writes none; the bare gin handler is given the same
#       request right before each of these rows (gin-baseline-proxied, the
#       sum of those pairs), and a row's "vs same req" is against its pairs
#   -q  with -s: only the dispatchers without the access log (the rows
#       comparable with bare gin), in half the time
#   -u  unpinned: no taskset, the scheduler places servers and wrk
# dispatcher-random-nostats is dispatcher-random with "stats": {"enabled":
# false}: the cost of the download statistics is the ratio of the two.
# A short run: scripts/loadtest.sh -d 1 -r 1 -w 0 -n 0
#
# For every server it prints requests per second (wrk) and CPU microseconds
# per redirect (utime+stime from /proc of the server, and of redis-server
# where Redis is used, divided by the requests answered). Rounds alternate
# the servers (A B C A B C …) so that a noisy neighbour hits all of them;
# the figures are sums over rounds. Servers run on CPU 0, wrk on CPU 1.
# redis-server runs on CPU 0 with the dispatcher: it competes for the same
# CPU (a Redis on another host would not), and its CPU time is counted in
# the Redis row. (On CPU 1 wrk starves it past the 5 ms budget.)
# An ab run per server is printed too, as the seed measured with ab.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=10 conns=50 rounds=2 warmup=10 abn=20000 pinned=1 sizes="" logged=1
usage="usage: $0 [-d seconds] [-c connections] [-r rounds] [-w warm-up seconds] [-n ab requests] [-s sizes [-q]] [-u]"
while getopts "d:c:r:w:n:s:quh" o; do
  case $o in
    d) duration=$OPTARG ;; c) conns=$OPTARG ;; r) rounds=$OPTARG ;; u) pinned=0 ;;
    w) warmup=$OPTARG ;; n) abn=$OPTARG ;; s) sizes=$OPTARG ;; q) logged=0 ;;
    *) echo "$usage"; exit 2 ;;
  esac
done
for v in "$duration" "$conns" "$rounds" "$warmup" "$abn" ${sizes//,/ }; do
  [[ $v =~ ^[0-9]+$ ]] || { echo "loadtest: $v is not a whole number" >&2; echo "$usage" >&2; exit 2; }
done
[ "$duration" -gt 0 ] && [ "$rounds" -gt 0 ] && [ "$conns" -gt 0 ] || { echo "loadtest: -d, -r and -c must be at least 1" >&2; exit 2; }
# Servers on CPU 0 and wrk/ab on CPU 1, unless -u.
cpu0=() cpu1=()
if [ "$pinned" = 1 ]; then cpu0=(taskset -c 0) cpu1=(taskset -c 1); fi
for p in wrk ab nginx redis-server taskset curl; do
  command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || { echo "loadtest: $p missing (apt-get install wrk apache2-utils nginx-light redis-server util-linux curl)" >&2; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

. scripts/lib.sh # after the cd above: paths are from the repository root

echo "building…"
go build -o "$work/dispatcher" ./cmd/dispatcher
go build -o "$work/gin-baseline" ./cmd/gin-baseline

# nginx: one worker, no access log, return 302.
np=$(freeport)
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  server { listen 127.0.0.1:$np; location / { return 302 http://mirror.example\$request_uri; } }
}
NGINX
"${cpu0[@]}" "$NGINX" -c "$work/nginx/nginx.conf" -p "$work/nginx" & pids+=($!); npid=$!
waitport "$np"
# The one worker is the child of the master this script started (not any
# nginx on the machine).
nginx_pid() { pgrep -P "$npid" | head -n1; }

gp=$(freeport)
"${cpu0[@]}" "$work/gin-baseline" -listen "127.0.0.1:$gp" & pids+=($!); gpid=$!
waitport "$gp"

rp=$(freeport)
"${cpu0[@]}" redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >/dev/null & pids+=($!); rpid=$!
waitport "$rp"

cat > "$work/mirrors.json" <<JSON
{"pools": [
  {"name": "random", "routes": ["/pub/*file"], "strategy": "random",
   "mirrors": [{"name": "a", "url": "http://a.example"}, {"name": "b", "url": "http://b.example", "weight": 2}, {"name": "c", "url": "http://c.example"}]},
  {"name": "rr", "routes": ["/rr/*file"], "strategy": "roundrobin",
   "mirrors": [{"name": "a", "url": "http://a.example"}, {"name": "b", "url": "http://b.example", "weight": 2}, {"name": "c", "url": "http://c.example"}]}
]}
JSON
dp=$(freeport)
"${cpu0[@]}" "$work/dispatcher" -config "$work/mirrors.json" -listen "127.0.0.1:$dp" 2>"$work/dispatcher.log" & pids+=($!); dpid=$!
waitport "$dp"
dqp=$(freeport)
"${cpu0[@]}" "$work/dispatcher" -config "$work/mirrors.json" -listen "127.0.0.1:$dqp" -quiet 2>"$work/dispatcher-quiet.log" & pids+=($!); dqpid=$!
waitport "$dqp"
# The same pools without the download statistics: their cost is
# dispatcher-random over dispatcher-random-nostats.
python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); c["stats"] = {"enabled": False}; print(json.dumps(c))' \
  "$work/mirrors.json" > "$work/mirrors-nostats.json"
dnp=$(freeport)
"${cpu0[@]}" "$work/dispatcher" -config "$work/mirrors-nostats.json" -listen "127.0.0.1:$dnp" 2>"$work/dispatcher-nostats.log" & pids+=($!); dnpid=$!
waitport "$dnp"
drp=$(freeport)
"${cpu0[@]}" "$work/dispatcher" -config "$work/mirrors.json" -listen "127.0.0.1:$drp" -redis "redis://127.0.0.1:$rp/0" 2>"$work/dispatcher-redis.log" & pids+=($!); drpid=$!
waitport "$drp"
waitbody "http://127.0.0.1:$drp/readyz" "shared through redis"

ticks() { # utime+stime of the given pids, in clock ticks
  local t=0
  for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done
  echo $t
}
hz=$(getconf CLK_TCK)
faults() { # minor page faults of the given pids so far
  local t=0
  for p in "$@"; do t=$((t + $(awk '{print $10}' "/proc/$p/stat"))); done
  echo $t
}

names=(nginx gin-baseline dispatcher-random dispatcher-random-nostats dispatcher-random-quiet dispatcher-roundrobin dispatcher-roundrobin-redis)
urls=("http://127.0.0.1:$np/pub/x.iso" "http://127.0.0.1:$gp/pub/x.iso" "http://127.0.0.1:$dp/pub/x.iso" "http://127.0.0.1:$dnp/pub/x.iso"
      "http://127.0.0.1:$dqp/pub/x.iso" "http://127.0.0.1:$dp/rr/x.iso" "http://127.0.0.1:$drp/rr/x.iso")
declare -A reqs cpu secs p99
redis_cpu=0
for n in "${names[@]}"; do reqs[$n]=0; cpu[$n]=0; secs[$n]=0; p99[$n]=0; done
# to_us turns a wrk latency (850.00us, 1.23ms, 1.05s) into microseconds.
to_us() { awk -v v="$1" 'BEGIN{ n=v+0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n*1000; else print n*1e6 }'; }

# Scale rows: one dispatcher per size, its pools generated. They carry
# X-Forwarded-For, so the bare gin handler is given the same request
# (gin-baseline-proxied) right before each of them: the yardstick of the
# scale rows.
declare -A spid hdr
mkdir -p "$work/origin/f"
echo x > "$work/origin/f/x.iso"
if [ -n "$sizes" ]; then
  names+=(gin-baseline-proxied); urls+=("http://127.0.0.1:$gp/pub/x.iso")
  hdr[gin-baseline-proxied]="X-Forwarded-For: 85.214.0.1"
  reqs[gin-baseline-proxied]=0; cpu[gin-baseline-proxied]=0; secs[gin-baseline-proxied]=0; p99[gin-baseline-proxied]=0
fi
for size in ${sizes//,/ }; do
  python3 - "$size" "$work/origin" "$PWD/data/geo-whois-asn-country.mmdb" > "$work/scale-$size.json" <<'PY'
import json, sys
n, origin, mmdb = int(sys.argv[1]), sys.argv[2], sys.argv[3]
countries = ["DE", "FR", "US", "BR", "JP", "AU", "ZA", "IN"]
mirrors = [{"name": f"m{i}", "url": f"http://m{i}.example", "country": countries[i % 8], "weight": 1 + i % 3} for i in range(n)]
pools = [{"name": s, "routes": [f"/{s}/*file"], "strategy": s, "mirrors": mirrors} for s in ["random", "roundrobin", "iphash", "geo"]]
pools.append({"name": "files", "routes": ["/files/*file"], "strategy": "random", "mirrors": mirrors,
              "files": {"origin": origin, "schedule": "@every 1h"}})
print(json.dumps({"geoip": mmdb, "trusted_proxies": ["127.0.0.1/32"], "pools": pools}))
PY
  # One dispatcher per size with the access log (the default), one without.
  variants=(-quiet)
  [ "$logged" = 1 ] && variants=("" -quiet)
  for quiet in "${variants[@]}"; do
    port=$(freeport)
    "${cpu0[@]}" "$work/dispatcher" -config "$work/scale-$size.json" -listen "127.0.0.1:$port" $quiet 2>"$work/scale-$size$quiet.log" & pids+=($!); sp=$!
    waitport "$port"
    waitbody "http://127.0.0.1:$port/api/status" '"origin_files":1'
    for st in random roundrobin iphash geo files; do
      n=$st-$size$quiet
      names+=("$n"); urls+=("http://127.0.0.1:$port/$st/f/x.iso")
      spid[$n]=$sp; hdr[$n]="X-Forwarded-For: 85.214.0.1"
      reqs[$n]=0; cpu[$n]=0; secs[$n]=0; p99[$n]=0
    done
  done
done

pids_of() {
  case $1 in
    nginx) nginx_pid ;; gin-baseline|gin-baseline-proxied) echo "$gpid" ;;
    dispatcher-random|dispatcher-roundrobin) echo "$dpid" ;;
    dispatcher-random-quiet) echo "$dqpid" ;;
    dispatcher-random-nostats) echo "$dnpid" ;;
    dispatcher-roundrobin-redis) echo "$drpid $rpid" ;;
    *) echo "${spid[$1]}" ;;
  esac
}

# wrk_args prints the extra arguments of row $1 (its header), one a line.
wrk_args() { [ -n "${hdr[$1]:-}" ] && printf '%s\n' -H "${hdr[$1]}"; return 0; }

# measure_row runs wrk on row $1 (after its warm-up) and adds what it
# answered and what its servers spent to the row's sums.
measure_row() {
  local n=$1 url=$2 ps before after rbefore rafter fbefore fafter out count non3xx errs lat extra
  ps=$(pids_of "$n")
  mapfile -t extra < <(wrk_args "$n")
  # A warm-up before every row, not counted. A Go server idle for minutes
  # (while the other rows run) has given memory back to the kernel after
  # its periodic collection; its first seconds of load map it again, page
  # by page (a 10,000-mirror dispatcher: some 38,000 faults, about a
  # second of CPU on these VMs), which would land on whichever row comes
  # first in each round. The warm-up goes on a second at a time until a
  # second costs the server fewer than 250 faults, for at most -w seconds.
  local w=0 f
  while [ "$w" -lt "$warmup" ]; do
    f=$(faults $ps)
    "${cpu1[@]}" wrk -t1 -c"$conns" -d1s "${extra[@]}" "$url" >/dev/null
    w=$((w + 1))
    [ $(($(faults $ps) - f)) -lt 250 ] && break
  done
  fbefore=$(faults $ps)
  before=$(ticks $ps); rbefore=$(ticks "$rpid")
  out=$("${cpu1[@]}" wrk -t1 -c"$conns" -d"${duration}s" --latency "${extra[@]}" "$url")
  after=$(ticks $ps); rafter=$(ticks "$rpid")
  fafter=$(faults $ps)
  [ "$n" = dispatcher-roundrobin-redis ] && redis_cpu=$((redis_cpu + rafter - rbefore))
  count=$(echo "$out" | awk '/requests in/ {print $1}')
  non3xx=$(echo "$out" | awk '/Non-2xx or 3xx/ {print $5}')
  errs=$(echo "$out" | awk '/Socket errors/ {print}')
  [ -n "$errs" ] && echo "  $n round $r: $errs"
  reqs[$n]=$((reqs[$n] + count))
  cpu[$n]=$((cpu[$n] + after - before))
  secs[$n]=$((secs[$n] + duration))
  row_reqs=$count row_cpu=$((after - before))
  lat=$(to_us "$(echo "$out" | awk '$1 == "99%" {print $2}')")
  p99[$n]=$(awk -v a="${p99[$n]}" -v b="$lat" 'BEGIN{print (b > a ? b : a)}')
  echo "  round $r ${n}: $count requests, p99 ${lat} µs, $((fafter - fbefore)) page faults after ${w}s of warm-up${non3xx:+ (non-3xx: $non3xx)}"
}

# A scale row is paired: the bare gin handler is given the same request
# right before it, and the row's "vs same req" is against the sum of its
# own pairs. On a shared machine the load of the neighbours drifts by a
# fifth within minutes; a yardstick measured minutes apart from a row
# would carry that drift into the ratio.
# Each pair's own ratio is printed as it is measured, and the table gives
# their range: how far one pair can stray from the sum.
declare -A pair_reqs pair_cpu pair_lo pair_hi
for r in $(seq "$rounds"); do
  for i in "${!names[@]}"; do
    n=${names[$i]}
    [ "$n" = gin-baseline-proxied ] && continue # measured in the pairs
    if [ -n "${spid[$n]:-}" ]; then
      measure_row gin-baseline-proxied "http://127.0.0.1:$gp/pub/x.iso"
      pair_reqs[$n]=$((${pair_reqs[$n]:-0} + row_reqs)); pair_cpu[$n]=$((${pair_cpu[$n]:-0} + row_cpu))
      pr=$row_reqs pc=$row_cpu
    fi
    measure_row "$n" "${urls[$i]}"
    if [ -n "${spid[$n]:-}" ] && [ "$row_reqs" -gt 0 ] && [ "$pc" -gt 0 ]; then
      ratio=$(awk -v c="$row_cpu" -v n="$row_reqs" -v pc="$pc" -v pr="$pr" 'BEGIN{printf "%.3f", (c/n)/(pc/pr)}')
      echo "  round $r ${n}: ${ratio}x the CPU a redirect of its pair"
      pair_lo[$n]=$(awk -v a="${pair_lo[$n]:-99}" -v b="$ratio" 'BEGIN{print (b < a ? b : a)}')
      pair_hi[$n]=$(awk -v a="${pair_hi[$n]:-0}" -v b="$ratio" 'BEGIN{print (b > a ? b : a)}')
    fi
  done
done

echo
printf "%-30s %12s %16s %14s %14s %14s %12s\n" server "req/s" "CPU µs/redirect" "vs gin-baseline" "vs same req" "worst p99 µs" "pairs"
us_of() { awk -v c="${cpu[$1]}" -v n="${reqs[$1]}" -v hz="$hz" 'BEGIN{printf "%.4f", c*1e6/hz/n}'; }
base=$(us_of gin-baseline)
# A row is also compared with the bare gin handler given the same request:
# a scale row with its own pairs, the others with gin-baseline.
for n in "${names[@]}"; do
  same=$base
  if [ -n "${pair_reqs[$n]:-}" ]; then
    same=$(awk -v c="${pair_cpu[$n]}" -v r="${pair_reqs[$n]}" -v hz="$hz" 'BEGIN{printf "%.4f", c*1e6/hz/r}')
  fi
  pairs=""
  [ -n "${pair_lo[$n]:-}" ] && pairs="${pair_lo[$n]}–${pair_hi[$n]}"
  awk -v name="$n" -v r="${reqs[$n]}" -v s="${secs[$n]}" -v c="${cpu[$n]}" -v hz="$hz" -v base="$base" -v same="$same" -v p="${p99[$n]}" -v pairs="$pairs" \
    'BEGIN{us=c*1e6/hz/r; printf "%-30s %12.0f %16.2f %13.2fx %13.2fx %14.0f %12s\n", name, r/s, us, us/base, us/same, p, pairs}'
done
echo
awk -v c="$redis_cpu" -v n="${reqs[dispatcher-roundrobin-redis]}" -v hz="$hz" \
  'BEGIN{printf "redis-server CPU in the dispatcher-roundrobin-redis row: %.2f µs/redirect\n", c*1e6/hz/n}'
awk -v a="${reqs[dispatcher-random]}" -v b="${reqs[dispatcher-random-nostats]}" -v ca="${cpu[dispatcher-random]}" -v cb="${cpu[dispatcher-random-nostats]}" \
  'BEGIN{printf "download statistics: dispatcher-random costs %.3fx the CPU per redirect of dispatcher-random-nostats\n", (ca/a)/(cb/b)}'
for n in dispatcher-roundrobin-redis; do
  awk -v name="$n" -v a="${reqs[$n]}" -v b="${reqs[dispatcher-random]}" -v ca="${cpu[$n]}" -v cb="${cpu[dispatcher-random]}" \
    'BEGIN{printf "%s: %.0f%% of random'"'"'s req/s, %.2fx its CPU per redirect (redis-server included)\n", name, 100*a/b, (ca/a)/(cb/b)}'
done
if grep -q '"msg":"redis' "$work/dispatcher-redis.log"; then
  echo
  echo "redis counter (from the dispatcher's /metrics):"
  metrics=$(curl -s "http://127.0.0.1:$drp/metrics")
  echo "$metrics" | grep -E '^dispatcher_redis_(roundtrips|positions|fallbacks)_total' || true
  echo "$metrics" | awk '/^dispatcher_redis_roundtrips_total/ {t=$2} /^dispatcher_redis_positions_total/ {p=$2}
    /^dispatcher_redis_fallbacks_total/ {f=$2}
    END { if (p > 0) printf "round trips per 1,000 redirects: %.1f; positions from Redis: %.3f%%\n", 1000 * t / p, 100 * p / (p + f) }'
fi

if [ "$abn" -gt 0 ]; then
  echo
  echo "ab -n $abn -c $conns (one run each):"
  printf "  %-30s %14s %10s %10s\n" server "requests/s" failed non-2xx
  for i in "${!names[@]}"; do
    mapfile -t extra < <(wrk_args "${names[$i]}")
    out=$("${cpu1[@]}" ab -q -n "$abn" -c "$conns" "${extra[@]}" "${urls[$i]}" 2>&1)
    rps=$(echo "$out" | awk '/Requests per second/ {print $4}')
    failed=$(echo "$out" | awk '/^Failed requests/ {print $3}')
    non2xx=$(echo "$out" | awk '/^Non-2xx responses/ {print $3}')
    printf "  %-30s %14s %10s %10s\n" "${names[$i]}" "$rps" "${failed:-0}" "${non2xx:-0}"
  done
  echo "(a 302 is a non-2xx answer to ab; 'failed' counts errors and bodies whose length changed)"
fi
