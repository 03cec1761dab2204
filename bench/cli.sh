#!/usr/bin/env bash
# One CLI process per job: `supercell submit` against a local `supercell up`
# (durable: the controller acks once the job is committed) side by side with
# `sbatch` against a private Slurm (slurmctld + slurmd on 127.0.0.1, state
# in a temp dir, tuned for submissions: sched/builtin with defer, no
# accounting, auth/none). Jobs are submitted held on both sides, so neither
# runs them and the figures are the submission path alone.
#  (a) per-process time, one process at a time: RUNS runs each of
#      `supercell submit`, `supercell --help`, `sbatch` and
#      `sbatch --version` (median, p90, p99, spawn to exit);
#  (b) CLIENTS parallel clients, each starting one CLI process per job for
#      DURATION seconds: acknowledged submissions per second (exit 0).
# Both systems run for the whole bench and the measurements alternate
# between them in ROUNDS rounds, so both see the same machine (a shared
# one's load changes by the minute).
# Usage: bench/cli.sh   (BUILD=build-dir, SUPERCELL=binary, RUNS=500,
#                        CLIENTS=8, DURATION=10, ROUNDS=5, SVG=file)
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
ROUNDS=${ROUNDS:-5}
for f in "$SC" "$BC"; do
  [ -x "$f" ] || { echo "cli.sh: $f is missing: build first (make build)" >&2; exit 2; }
done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sc-bench-cli.XXXXXX")
PIDS=()
BC_PID=
source "$(dirname "$0")/lib.sh"
cleanup() {
  [ -n "$BC_PID" ] && kill -TERM "$BC_PID" 2>/dev/null
  stop_pids
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
WAIT_STEP=0.1 # lib.sh's wait_for
# field KEY LINE: the value of KEY=VALUE in a bench_cli result line.
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }
# measure ARGS...: bench_cli ARGS, its result line appended to $TMP/results,
# run in the background so that a signal reaches the trap at once.
measure() {
  "$BC" "$@" >>"$TMP/results" &
  BC_PID=$!
  wait "$BC_PID"
  BC_PID=
}

echo "== One CLI process per job: supercell submit vs sbatch ($RUNS runs one at a time," \
  "$CLIENTS clients x ${DURATION}s, in $ROUNDS alternating rounds) =="
echo "machine: $(nproc) CPUs, $(uname -r), temp dir on $(df -T "$TMP" | awk 'NR==2{print $2}')," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"

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
systems=(sc)
declare -A cmd help
cmd[sc]=${submit[*]}
help[sc]="$SC --help"

# --- Slurm: slurmctld and slurmd in the foreground, their PIDs kept.
have_slurm=1
for c in slurmctld slurmd sbatch sinfo; do command -v "$c" >/dev/null || have_slurm=0; done
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
  systems+=(sl)
  cmd[sl]="sbatch --hold --parsable --job-name bench --wrap true"
  help[sl]="sbatch --version"
fi

# --- Rounds: every measurement alternates between the systems.
declare -A warm
for s in "${systems[@]}"; do
  # shellcheck disable=SC2086
  warm[$s]=$(${cmd[$s]}) # a first job each: everything warm
done
for r in $(seq "$ROUNDS"); do
  for s in "${systems[@]}"; do
    say "round $r/$ROUNDS: $s: ${cmd[$s]%% *} one at a time, --help, $CLIENTS clients"
    # shellcheck disable=SC2086
    measure serial --runs $((RUNS / ROUNDS)) --samples "$TMP/$s-submit.ms" \
      --errors "$TMP/$s-errors.log" -- ${cmd[$s]}
    # shellcheck disable=SC2086
    measure serial --runs $((RUNS / ROUNDS)) --samples "$TMP/$s-help.ms" -- ${help[$s]}
    # shellcheck disable=SC2086
    measure parallel --clients "$CLIENTS" --duration "$(awk -v d="$DURATION" -v r="$ROUNDS" \
      'BEGIN { print d / r }')" --errors "$TMP/$s-errors.log" -- ${cmd[$s]}
    tail -n 1 "$TMP/results" >>"$TMP/$s-par.txt"
    tail -n 3 "$TMP/results" | head -n 1 >>"$TMP/$s-serial.txt"
  done
done
# Job ids count up by one per committed job: the last one says how many
# jobs each controller holds, to set against the acks.
declare -A held acked
for s in "${systems[@]}"; do
  # shellcheck disable=SC2086
  last=$(${cmd[$s]})
  last=${last#j-}
  first=${warm[$s]#j-}
  held[$s]=$((10#$last - 10#$first - 1))
  acked[$s]=$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                     n += v["runs"] - v["failed"] } END { print n }' "$TMP/$s-serial.txt")
  acked[$s]=$((acked[$s] + $(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^acked=/) { sub(/acked=/, "", $i); n += $i } }
                                  END { print n }' "$TMP/$s-par.txt")))
done

# --- The table.
# quantiles FILE: "median p90 p99" of the milliseconds in FILE.
quantiles() {
  sort -n "$1" | awk '{ v[NR] = $1 } END {
    q[1] = 0.5; q[2] = 0.9; q[3] = 0.99
    for (i = 1; i <= 3; i++) { k = int(q[i] * NR + 0.999999); if (k < 1) k = 1; printf "%.2f ", v[k] } }'
}
# rate FILE: acked submissions/s over the rounds of parallel results.
rate() {
  awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
         a += v["acked"]; f += v["failed"]; t += v["seconds"] }
       END { printf "%.1f %d %d", a / t, a, f }' "$1"
}
declare -A sub hq par
for s in "${systems[@]}"; do
  read -r -a q <<<"$(quantiles "$TMP/$s-submit.ms")"
  sub[$s]="${q[0]} ${q[1]} ${q[2]}"
  read -r -a q <<<"$(quantiles "$TMP/$s-help.ms")"
  hq[$s]="${q[0]} ${q[1]} ${q[2]}"
  par[$s]=$(rate "$TMP/$s-par.txt")
done
row() { printf '%-36s %22s %22s\n' "$@"; }
col() { # col SYS WHAT: a cell of the table, - when SYS did not run
  [ -n "${sub[$1]:-}" ] || { echo -; return; }
  local -a a
  case $2 in
  median) read -r -a a <<<"${sub[$1]}"; echo "${a[0]} ms" ;;
  three) read -r -a a <<<"${sub[$1]}"; echo "${a[0]} / ${a[1]} / ${a[2]}" ;;
  hmedian) read -r -a a <<<"${hq[$1]}"; echo "${a[0]} ms" ;;
  hthree) read -r -a a <<<"${hq[$1]}"; echo "${a[0]} / ${a[1]} / ${a[2]}" ;;
  rate) read -r -a a <<<"${par[$1]}"; echo "${a[0]}" ;;
  af) read -r -a a <<<"${par[$1]}"; echo "${a[1]} / ${a[2]}" ;;
  held) echo "${acked[$1]} / ${held[$1]}" ;;
  esac
}
echo
row "" "supercell submit" "sbatch"
row "one process at a time: median" "$(col sc median)" "$(col sl median)"
row "  p50 / p90 / p99 (ms)" "$(col sc three)" "$(col sl three)"
row "--help (sbatch --version): median" "$(col sc hmedian)" "$(col sl hmedian)"
row "  p50 / p90 / p99 (ms)" "$(col sc hthree)" "$(col sl hthree)"
row "$CLIENTS clients: acked submissions/s" "$(col sc rate)" "$(col sl rate)"
row "  acked / failed (${DURATION}s)" "$(col sc af)" "$(col sl af)"
row "acked in all / jobs held at the end" "$(col sc held)" "$(col sl held)"
echo
if [ "$have_slurm" = 1 ]; then
  read -r -a a <<<"${par[sc]}"
  read -r -a b <<<"${par[sl]}"
  awk -v a="${a[0]}" -v b="${b[0]}" \
    'BEGIN { printf "supercell / sbatch acked rate: %.2fx (target >= 2x)\n", a / b }'
else
  echo "(sbatch skipped: Slurm is not installed; scripts/install-deps bench)"
fi
for s in "${systems[@]}"; do
  if [ -s "$TMP/$s-errors.log" ]; then
    echo "$s errors (first 3):"
    head -n 3 "$TMP/$s-errors.log"
  fi
done
if [ -n "${SVG:-}" ] && [ "$have_slurm" = 1 ]; then
  awk -v a="${a[0]}" -v b="${b[0]}" -v c="$CLIENTS" 'BEGIN {
    m = a > b ? a : b; w = 400
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"620\" height=\"120\" font-family=\"sans-serif\" font-size=\"13\">\n"
    printf "<text x=\"10\" y=\"20\">acknowledged submissions/s, %d clients, one CLI process per job</text>\n", c
    printf "<text x=\"10\" y=\"55\">supercell</text><rect x=\"100\" y=\"40\" width=\"%.0f\" height=\"22\" fill=\"#3a7\"/>", w * a / m
    printf "<text x=\"%.0f\" y=\"55\">%.0f/s</text>\n", 106 + w * a / m, a
    printf "<text x=\"10\" y=\"95\">sbatch</text><rect x=\"100\" y=\"80\" width=\"%.0f\" height=\"22\" fill=\"#888\"/>", w * b / m
    printf "<text x=\"%.0f\" y=\"95\">%.0f/s</text>\n</svg>\n", 106 + w * b / m, b }' >"$SVG"
  echo "wrote $SVG"
fi
