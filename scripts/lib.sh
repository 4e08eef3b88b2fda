# scripts/lib.sh — helpers the load scripts share; sourced, not run.
# It sets $work (a temporary directory) and $pids (processes to stop), and
# cleans both up when the script exits.

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# freeport prints a TCP port on 127.0.0.1 that was free a moment ago.
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# waitport waits up to 10 s for 127.0.0.1:$1 to accept connections.
waitport() { for _ in $(seq 200); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 did not open" >&2; exit 1; }

# waitbody waits up to 10 s for GET $1 to answer with a body holding $2.
waitbody() { for _ in $(seq 200); do curl -fs "$1" 2>/dev/null | grep -q "$2" && return 0; sleep 0.05; done; echo "$1 did not say \"$2\"" >&2; exit 1; }
