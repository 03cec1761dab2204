#!/usr/bin/env bash
# One CLI process per job: `supercell submit` against a local `supercell up`
# (durable: the controller acks once the job is committed) side by side with
# `sbatch` against a private Slurm (slurmctld + slurmd on 127.0.0.1, state
# in a temp dir, tuned for submissions: sched/builtin with defer, no
# accounting, auth/none). Jobs are submitted held on both sides, so neither
# runs them and the figures are the submission path alone.
#  (a) per-process time, one process at a time: RUNS runs of `supercell
#      submit`, `supercell --help`, `sbatch` and `sbatch --version`
#      (median, p90, p99);
#  (b) CLIENTS parallel clients, each starting one CLI process per job for
#      DURATION seconds: acknowledged submissions per second (exit 0).
# Usage: bench/cli.sh   (BUILD=build-dir, SUPERCELL=binary, RUNS=500,
#                        CLIENTS=8, DURATION=10, SVG=file to also draw it)
# Slurm comes from `scripts/install-deps bench`; without it only supercell
# is measured. Every process started here is stopped by its PID at the end,
# also on failure or Ctrl-C, and the temp dir removed.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SC=$(realpath "${SUPERCELL:-$BUILD/supercell}")
BC=$BUILD/bench/bench_cli
RUNS=${RUNS:-500}
CLIENTS=${CLIENTS:-8}
DURATION=${DURATION:-10}
for f in "$SC" "$BC"; do
  [ -x "$f" ] || { echo "cli.sh: $f is missing: build first (make build)" >&2; exit 2; }
done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sc-bench-cli.XXXXXX")
PIDS=()
stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
BC_PID=
cleanup() {
  [ -n "$BC_PID" ] && kill -TERM "$BC_PID" 2>/dev/null
  stop_all
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say() { [ -t 1 ] && echo "$*" >&2 || true; }
# measure VAR ARGS...: VAR = the result line of bench_cli ARGS, run in the
# background so that a signal reaches the trap at once, not at its end.
measure() {
  local var=$1
  shift
  "$BC" "$@" >"$TMP/result" &
  BC_PID=$!
  wait "$BC_PID"
  BC_PID=
  printf -v "$var" '%s' "$(cat "$TMP/result")"
}
# field KEY LINE: the value of KEY=VALUE in a bench_cli result line.
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }
# wait_for SECONDS WHAT CMD...: polls CMD every 0.1 s.
wait_for() {
  local n=$(($1 * 10)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || { echo "cli.sh: timed out waiting for $what" >&2; exit 1; }
    sleep 0.1
  done
}

echo "== One CLI process per job: supercell submit vs sbatch (runs $RUNS, $CLIENTS clients x ${DURATION}s) =="
echo "machine: $(nproc) CPUs, $(uname -r), state on $(df -T "$TMP" | awk 'NR==2{print $2}')"

# --- supercell: `up` on a free port, the CLI finds it through SUPERCELL_HOME.
export SUPERCELL_HOME=$TMP/sc
unset SUPERCELL_SERVER SUPERCELL_TOKEN
port=$("$BC" port)
say "starting supercell up on 127.0.0.1:$port"
"$SC" up --state-dir "$SUPERCELL_HOME" --port "$port" >"$TMP/up.log" 2>&1 &
PIDS+=($!)
wait_for 30 "supercell up (see $TMP/up.log)" grep -q 'Press Ctrl-C' "$TMP/up.log"
wait_for 30 "the local agent to be ready" sh -c "'$SC' nodes | grep -q ready"
submit=("$SC" submit --hold --cpu 100 --name bench -- true)
"${submit[@]}" >/dev/null # a first job: everything warm
say "supercell submit, one at a time"
measure sc_submit serial --runs "$RUNS" --errors "$TMP/sc-errors.log" -- "${submit[@]}"
say "supercell --help, one at a time"
measure sc_help serial --runs "$RUNS" -- "$SC" --help
say "supercell submit, $CLIENTS clients"
first=$("${submit[@]}")
measure sc_par parallel --clients "$CLIENTS" --duration "$DURATION" --errors "$TMP/sc-errors.log" \
  -- "${submit[@]}"
last=$("${submit[@]}")
# Job ids count up by one per committed job: every ack is a job.
sc_committed=$((10#${last#j-} - 10#${first#j-} - 1))
stop_all

# --- Slurm: slurmctld and slurmd in the foreground, their PIDs kept.
have_slurm=1
for c in slurmctld slurmd sbatch; do command -v "$c" >/dev/null || have_slurm=0; done
if [ "$have_slurm" = 1 ]; then
  S=$TMP/slurm
  mkdir -p "$S/state" "$S/spool"
  host=$(hostname -s)
  cat >"$S/slurm.conf" <<EOF
ClusterName=scbench
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$("$BC" port)
SlurmdPort=$("$BC" port)
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
AuthType=auth/none
CredType=cred/none
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SchedulerType=sched/builtin
SchedulerParameters=defer
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmctldDebug=error
SlurmdDebug=error
MaxJobCount=1000000
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=bench Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$S/slurm.conf
  say "starting slurmctld and slurmd (Slurm $(sbatch --version | awk '{print $2}'))"
  slurmctld -D -i -f "$SLURM_CONF" >"$S/slurmctld.out" 2>&1 &
  PIDS+=($!)
  slurmd -D -f "$SLURM_CONF" -N "$host" >"$S/slurmd.out" 2>&1 &
  PIDS+=($!)
  wait_for 30 "slurmctld and slurmd (see $S)" sh -c "sinfo -h -o %t | grep -q idle"
  sbatch=(sbatch --hold --parsable --job-name bench --wrap true)
  "${sbatch[@]}" >/dev/null
  say "sbatch, one at a time"
  measure sl_submit serial --runs "$RUNS" --errors "$TMP/sl-errors.log" -- "${sbatch[@]}"
  say "sbatch --version, one at a time"
  measure sl_help serial --runs "$RUNS" -- sbatch --version
  say "sbatch, $CLIENTS clients"
  first=$("${sbatch[@]}")
  measure sl_par parallel --clients "$CLIENTS" --duration "$DURATION" --errors "$TMP/sl-errors.log" \
    -- "${sbatch[@]}"
  last=$("${sbatch[@]}")
  sl_committed=$((last - first - 1))
  stop_all
fi

# --- The table.
row() { printf '%-34s %22s %22s\n' "$@"; }
ms() { [ -n "$2" ] && printf '%.2f ms' "$(field "$1" "$2")" || echo -; }
three() { [ -n "$1" ] && printf '%.2f / %.2f / %.2f' "$(field median "$1")" "$(field p90 "$1")" \
  "$(field p99 "$1")" || echo -; }
echo
row "" "supercell" "sbatch"
row "submit, one process: median" "$(ms median "$sc_submit")" "$(ms median "${sl_submit:-}")"
row "  p50 / p90 / p99 (ms)" "$(three "$sc_submit")" "$(three "${sl_submit:-}")"
row "  failed runs" "$(field failed "$sc_submit")/$RUNS" "${sl_submit:+$(field failed "$sl_submit")/$RUNS}"
row "--help / --version: median" "$(ms median "$sc_help")" "$(ms median "${sl_help:-}")"
row "  p50 / p90 / p99 (ms)" "$(three "$sc_help")" "$(three "${sl_help:-}")"
sc_rate=$(field rate "$sc_par")
sl_rate=${sl_par:+$(field rate "$sl_par")}
row "$CLIENTS clients: acked submissions/s" "$sc_rate" "${sl_rate:--}"
row "  acked / failed in ${DURATION}s" "$(field acked "$sc_par") / $(field failed "$sc_par")" \
  "${sl_par:+$(field acked "$sl_par") / $(field failed "$sl_par")}"
row "  jobs the controller holds" "$sc_committed" "${sl_committed:--}"
if [ -n "$sl_rate" ]; then
  echo
  awk -v a="$sc_rate" -v b="$sl_rate" 'BEGIN { printf "supercell / sbatch acked rate: %.2fx (target >= 2x)\n", a / b }'
else
  echo
  echo "(sbatch skipped: Slurm is not installed; scripts/install-deps bench)"
fi
[ -s "$TMP/sc-errors.log" ] && { echo "supercell errors (first 3):"; head -3 "$TMP/sc-errors.log"; }
[ -s "$TMP/sl-errors.log" ] && { echo "sbatch errors (first 3):"; head -3 "$TMP/sl-errors.log"; }
if [ -n "${SVG:-}" ]; then
  max=$(awk -v a="$sc_rate" -v b="${sl_rate:-0}" 'BEGIN { print (a > b ? a : b) }')
  awk -v a="$sc_rate" -v b="${sl_rate:-0}" -v m="$max" -v c="$CLIENTS" 'BEGIN {
    w = 420; printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"130\" font-family=\"sans-serif\" font-size=\"13\">\n"
    printf "<text x=\"10\" y=\"20\">acked submissions/s, %d clients, one CLI process per job</text>\n", c
    printf "<text x=\"10\" y=\"55\">supercell</text><rect x=\"90\" y=\"40\" width=\"%.0f\" height=\"22\" fill=\"#3a7\"/><text x=\"%.0f\" y=\"55\">%.0f</text>\n", w * a / m, 96 + w * a / m, a
    printf "<text x=\"10\" y=\"95\">sbatch</text><rect x=\"90\" y=\"80\" width=\"%.0f\" height=\"22\" fill=\"#888\"/><text x=\"%.0f\" y=\"95\">%.0f</text>\n", w * b / m, 96 + w * b / m, b
    printf "</svg>\n" }' >"$SVG"
  echo "wrote $SVG"
fi
exit 0
