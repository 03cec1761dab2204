#!/usr/bin/env bash
# An emulated fleet against a real controller (docs/emulation.md): starts
# `supercell server` (default heartbeat timeout, so the default heartbeat
# interval) and one `supercell agent --emulate N` of 8-GPU nodes with
# regions, and prints
#  - registration: from the emulator's start until the controller lists all
#    N nodes ready (and the emulator's own figure);
#  - idle load: CPU (% of one core) and RSS of the emulator and of the
#    controller over IDLE seconds with every node idle, and that no node
#    was lost meanwhile.
# Usage: bench/emulate.sh   (BUILD=build-dir, SUPERCELL=binary, N=1000,
#                            IDLE=20, CONNECTIONS=16, AUTH=agent|admin,
#                            HOSTILE=5000: then that many half-open sockets
#                            are held while /healthz and an authenticated
#                            GET /v1/jobs?limit=10 are timed)
# AUTH=agent (default): the nodes register with a bootstrap agent token and
# each gets its own credential, as real agents do; AUTH=admin: all use the
# admin token (no credentials: the controller's token table stays small).
# STUB=1: bench/agent_stub.py stands in for the controller (it answers at
# once and holds the long-polls), to measure the emulator alone at sizes
# today's controller cannot hold (N=10000 STUB=1).
# Loopback only, a temp dir, bounded (registration waits at most 120 s);
# every process started here is stopped by its PID at the end, also on
# failure or Ctrl-C, and the temp dir removed. Today's controller runs a
# thread per connection, at most 4,096: N much above ~4,000 leaves some
# nodes retrying their long-poll (they stay registered by heartbeats).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SC=$(realpath "${SUPERCELL:-$BUILD/supercell}")
N=${N:-1000}
IDLE=${IDLE:-20}
CONNECTIONS=${CONNECTIONS:-16}
AUTH=${AUTH:-agent}
HOSTILE=${HOSTILE:-}
STUB=${STUB:-}
CTL=controller
[ -z "$STUB" ] || CTL=stub
[ -x "$SC" ] || { echo "emulate.sh: $SC is missing: build first (make build)" >&2; exit 2; }
command -v jq >/dev/null || { echo "emulate.sh: jq is required" >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sc-bench-emulate.XXXXXX")
PIDS=()
source "$(dirname "$0")/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM
threads() { awk '/^Threads/ {print $2}' "/proc/$1/status"; }
ready() { "$SC" nodes -o json | jq '[.nodes[] | select(.state == "ready")] | length'; }
all_ready() { [ "$(ready)" -ge "$N" ]; }

echo "== Emulated fleet: $N nodes x 8 GPUs, one emulator, $CONNECTIONS shared connections," \
  "$([ -n "$STUB" ] && echo "a stub controller" || echo "$AUTH token") =="
echo "machine: $(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"

export SUPERCELL_SERVER SUPERCELL_TOKEN
if [ -n "$STUB" ]; then
  python3 bench/agent_stub.py "$TMP/stub.port" 1000 >"$TMP/stub.log" 2>&1 &
  SERVER=$!
  PIDS+=("$SERVER")
  wait_for 20 "the stub" test -s "$TMP/stub.port"
  SUPERCELL_SERVER=http://127.0.0.1:$(cat "$TMP/stub.port")
  echo stub >"$TMP/agent.token"
  all_ready() { grep -q "all $N nodes registered" "$TMP/emulator.log"; }
else
  "$SC" server --listen 127.0.0.1:0 --state-dir "$TMP/server" >"$TMP/server.log" 2>&1 &
  SERVER=$!
  PIDS+=("$SERVER")
  wait_for 20 "the controller" test -s "$TMP/server/controller.url"
  SUPERCELL_SERVER=$(head -n1 "$TMP/server/controller.url")
  wait_for 20 "the controller's /healthz" curl -sf "$SUPERCELL_SERVER/healthz"
  SUPERCELL_TOKEN=$(cat "$TMP/server/admin.token")
fi
if [ -n "$STUB" ]; then
  :
elif [ "$AUTH" = admin ]; then
  cp "$TMP/server/admin.token" "$TMP/agent.token"
else
  (umask 077; "$SC" token create --kind agent >"$TMP/agent.token")
fi

say "starting the emulator"
t0=$(now_ms)
"$SC" agent --server "$SUPERCELL_SERVER" --token-file "$TMP/agent.token" --emulate "$N" \
  --devices nvidia:A100-80G:8 --cpu 64000 --memory 512Gi --emulate-label region=eu,us \
  --emulate-label-blocks "rack=r[001-$(((N + 39) / 40))]" \
  --emulate-connections "$CONNECTIONS" >"$TMP/emulator.log" 2>&1 &
EMU=$!
PIDS+=("$EMU")
wait_for 120 "$N nodes ready" all_ready
t1=$(now_ms)
own=$(sed -n 's/.*all [0-9]* nodes registered in \([0-9.]*\) s.*/\1/p' "$TMP/emulator.log")
printf "registration: %d nodes ready in %.2f s (the emulator: all registered in %s s)\n" \
  "$N" "$(awk -v ms=$((t1 - t0)) 'BEGIN {print ms / 1000}')" "${own:-?}"

say "idle for ${IDLE}s"
sleep 2 # the registration burst settles
hz=$(getconf CLK_TCK)
e0=$(ticks "$EMU") s0=$(ticks "$SERVER") w0=$(now_ms)
sleep "$IDLE"
e1=$(ticks "$EMU") s1=$(ticks "$SERVER") w1=$(now_ms)
pct() { awk -v t=$(($2 - $1)) -v hz="$hz" -v ms=$((w1 - w0)) 'BEGIN {printf "%.1f", 100 * t / hz / (ms / 1000)}'; }
printf "idle %ds: %-10s CPU %5s%% of a core, RSS %4s MiB, %s thread(s)\n" "$IDLE" \
  emulator "$(pct "$e0" "$e1")" "$(rss_mib "$EMU")" "$(threads "$EMU")"
printf "idle %ds: %-10s CPU %5s%% of a core, RSS %4s MiB, %s thread(s)\n" "$IDLE" "$CTL" \
  "$(pct "$s0" "$s1")" "$(rss_mib "$SERVER")" "$(threads "$SERVER")"
echo "emulator: $(ls "/proc/$EMU/fd" | wc -l) file descriptors"
if [ -n "$HOSTILE" ] && [ -z "$STUB" ]; then
  # Hostile clients: HOSTILE sockets that send half a request head and stay
  # silent; meanwhile the API must still answer at once.
  python3 - "${SUPERCELL_SERVER##*:}" "$HOSTILE" "$TMP/hostile.ready" <<'PY' &
import resource, socket, sys, time
n = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 100, max(n + 100, resource.getrlimit(resource.RLIMIT_NOFILE)[1])))
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    socks.append(s)
open(sys.argv[3], "w").close()
time.sleep(60)
PY
  PIDS+=("$!")
  wait_for 60 "$HOSTILE hostile sockets" test -e "$TMP/hostile.ready"
  lat() { # URL [curl args]: 20 answers' times in ms, sorted
    for _ in $(seq 20); do
      curl -s -o /dev/null -w '%{time_total}\n' "$@"
    done | awk '{printf "%.1f\n", $1 * 1000}' | sort -n
  }
  h=$(lat "$SUPERCELL_SERVER/healthz")
  j=$(lat -H "Authorization: Bearer $SUPERCELL_TOKEN" "$SUPERCELL_SERVER/v1/jobs?limit=10")
  printf "with %d nodes and %d hostile sockets: /healthz p50 %s ms, max %s ms; GET /v1/jobs?limit=10 p50 %s ms, max %s ms (20 each)\n" \
    "$N" "$HOSTILE" "$(sed -n 10p <<<"$h")" "$(tail -n1 <<<"$h")" "$(sed -n 10p <<<"$j")" "$(tail -n1 <<<"$j")"
fi
if [ -n "$STUB" ]; then
  echo "stub: $(tail -n1 "$TMP/stub.log")"
else
  lost=$("$SC" nodes -o json | jq '[.nodes[] | select(.state != "ready")] | length')
  echo "nodes not ready at the end: $lost of $N"
fi
