#!/usr/bin/env bash
# The cost of a /metrics scrape on a large emulated fleet: starts
# `supercell server` and one `supercell agent --emulate N` (8-GPU nodes of
# two regions, docs/emulation.md), fills most GPUs with long jobs of mixed
# shapes and leaves some pending, then times SCRAPES scrapes with curl one
# after another and prints
#  - the scrape's wall time (p50, p99: nearest rank) and how long each
#    held the controller's lock (supercell_metrics_lock_held_seconds), for
#    SCRAPES scrapes back to back and COLD scrapes 5.5 s apart (each then
#    reads usage from the store afresh);
#  - the size and series count of a scrape.
# Usage: bench/metrics.sh   (BUILD=build-dir, SUPERCELL=binary, N=2000,
#                            SCRAPES=20, COLD=5, JOBS=6000)
# Loopback only, a temp dir, bounded (each wait at most 120 s); every
# process started here is stopped by its PID at the end, also on failure
# or Ctrl-C, and the temp dir removed.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SC=$(realpath "${SUPERCELL:-$BUILD/supercell}")
N=${N:-2000}
SCRAPES=${SCRAPES:-20}
COLD=${COLD:-5}
JOBS=${JOBS:-6000}
[ -x "$SC" ] || { echo "metrics.sh: $SC is missing: build first (make build)" >&2; exit 2; }
command -v jq >/dev/null || { echo "metrics.sh: jq is required" >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sc-bench-metrics.XXXXXX")
PIDS=()
source "$(dirname "$0")/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM
ready() { "$SC" nodes -o json | jq '[.nodes[] | select(.state == "ready")] | length'; }
all_ready() { [ "$(ready)" -ge "$N" ]; }
running() { scrape | awk '/^supercell_jobs\{.*state="running"/ {n += $2} END {print n + 0}'; }
scrape() { curl -s -H "Authorization: Bearer $SUPERCELL_TOKEN" "$SUPERCELL_SERVER/metrics"; }

echo "== /metrics on an emulated fleet: $N nodes x 8 GPUs, $JOBS jobs =="
echo "machine: $(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"

export SUPERCELL_SERVER SUPERCELL_TOKEN
"$SC" server --listen 127.0.0.1:0 --state-dir "$TMP/server" >"$TMP/server.log" 2>&1 &
SERVER=$!
PIDS+=("$SERVER")
wait_for 20 "the controller" test -s "$TMP/server/controller.url"
SUPERCELL_SERVER=$(head -n1 "$TMP/server/controller.url")
wait_for 20 "the controller's /healthz" curl -sf "$SUPERCELL_SERVER/healthz"
SUPERCELL_TOKEN=$(cat "$TMP/server/admin.token")
(umask 077; "$SC" token create --kind agent >"$TMP/agent.token")
"$SC" agent --server "$SUPERCELL_SERVER" --token-file "$TMP/agent.token" --emulate "$N" \
  --devices nvidia:A100-80G:8 --cpu 64000 --memory 512Gi --emulate-label region=eu,us \
  --emulate-quiet >"$TMP/emulator.log" 2>&1 &
PIDS+=("$!")
say "waiting for $N nodes"
wait_for 120 "$N nodes ready" all_ready

# Long jobs of mixed shapes, as arrays (one request each): whole GPUs,
# shares and gangs, a few held, and more than fits (they stay pending).
say "submitting $JOBS jobs"
per=$((JOBS / 6))
submit() { "$SC" submit -o json "$@" >/dev/null; }
submit --array "0-$((per - 1))" --gpus 1 -- sleep 3600
submit --array "0-$((per - 1))" --gpus 2 -- sleep 3600
submit --array "0-$((per - 1))" --gpus 4 -- sleep 3600
submit --array "0-$((per - 1))" --gpu-milli 500 -- sleep 3600
submit --array "0-$((per - 1))" --gpus 8 --tasks 2 -- sleep 3600
submit --array "0-$((per - 1))" --gpus 8 --hold -- sleep 3600
some_running() { [ "$(running)" -gt 0 ]; }
wait_for 120 "jobs to run" some_running
sleep 5 # the passes settle
echo "running jobs: $(running)"

# stats FILE LABEL: p50 and p99 (nearest rank) of the times in FILE (s).
stats() {
  sort -g "$1" | awk -v what="$2" '
    {t[NR] = $1 * 1000}
    END {n = NR; printf "%s: p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d)\n", what,
         t[int((n + 1) / 2)], t[int(n * 0.99 + 0.999)], t[n], n}'
}
# scrape_timed TIMES LOCKS: one scrape, its wall time and lock hold noted.
scrape_timed() {
  curl -s -o "$TMP/scrape.txt" -w '%{time_total}\n' \
    -H "Authorization: Bearer $SUPERCELL_TOKEN" "$SUPERCELL_SERVER/metrics" >>"$1"
  awk '/^supercell_metrics_lock_held_seconds / {print $2}' "$TMP/scrape.txt" >>"$2"
}
say "timing $SCRAPES scrapes back to back"
for i in $(seq "$SCRAPES"); do scrape_timed "$TMP/times" "$TMP/locks"; done
stats "$TMP/times" "scrape, back to back"
stats "$TMP/locks" "  controller lock held"
# The usage by tenant is read from the store at most every 5 s; a scrape
# after that (the usual 15 s interval) prices every open record again.
say "timing $COLD scrapes 5.5 s apart"
for i in $(seq "$COLD"); do sleep 5.5; scrape_timed "$TMP/cold" "$TMP/cold_locks"; done
stats "$TMP/cold" "scrape, usage read afresh"
stats "$TMP/cold_locks" "  controller lock held"
echo "scrape size: $(wc -c <"$TMP/scrape.txt") bytes, $(grep -vc '^#' "$TMP/scrape.txt") series"
echo "controller: RSS $(rss_mib "$SERVER") MiB"
