# Shared by the bench scripts (source it after setting PIDS and TMP).
BENCH=$(basename "$0")

# Stops the processes a script started (PIDS), TERM first, KILL after 5 s,
# and reaps them.
stop_pids() {
  local pid alive
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
# The exit trap's work (a script with more to stop defines its own).
cleanup() {
  stop_pids
  rm -rf "$TMP"
}
say() { if [ -t 1 ]; then echo "$*" >&2; fi; }
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
# wait_for SECONDS WHAT CMD...: polls CMD every WAIT_STEP s (0.2), exits
# the script naming WHAT when SECONDS pass first.
wait_for() {
  local end=$(($(now_ms) + $1 * 1000)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$(now_ms)" -lt "$end" ] || { echo "$BENCH: timed out waiting for $what" >&2; exit 1; }
    sleep "${WAIT_STEP:-0.2}"
  done
}
# CPU ticks (user + system) of a process, and its RSS in MiB.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_mib() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
