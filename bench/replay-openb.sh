#!/usr/bin/env bash
# Production replays the simulator (issue #9, item 4): for each policy,
# `supercell sim --workload default --seeds 42` is run in-process and its
# 10,866 tasks are replayed, in its order and shapes, against a real
# controller (`--policy P`, and `--fgd-target` with the workload's pod list
# for fgd) on 1,213 emulated OpenB nodes, each task running forever. The
# controller's placements are read back through the API and measured with
# the simulator's reducer (bench/bench_replay.c). Prints, per policy, the
# curves at every 10 % of arrived demand, how many placements differ and
# the largest difference of the curves; writes every arrival percentage to
# OUT/replay-POLICY.csv. A control run leaves FGD's target to the
# controller's window of recent tasks. Never part of `make test` (its
# 1,000-task version is tests/e2e/sim_replay.sh).
# Usage: bench/replay-openb.sh   (BUILD=build, OUT=a directory to keep the CSVs,
#        POLICIES="fgd bestfit", CONTROL=1 to run the control)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SC=${SUPERCELL:-$BUILD/supercell}
REPLAY=$BUILD/bench/bench_replay
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/sc-replay.XXXXXX")}
[ -x "$SC" ] && [ -x "$REPLAY" ] || { echo "replay-openb.sh: build first (make build)" >&2; exit 2; }
mkdir -p "$OUT"
status=0
for p in ${POLICIES:-fgd bestfit}; do
  start=$(date +%s%N)
  "$REPLAY" --supercell "$SC" --data data/openb --policy "$p" --csv "$OUT/replay-$p.csv" || status=1
  ms=$((($(date +%s%N) - start) / 1000000))
  printf 'wall time: %d.%d s\n\n' $((ms / 1000)) $((ms % 1000 / 100))
done
if [ "${CONTROL:-1}" = 1 ]; then
  echo "-- control: fgd without --fgd-target (the controller's window of recent tasks) --"
  "$REPLAY" --supercell "$SC" --data data/openb --policy fgd --fgd-target window \
    --csv "$OUT/replay-fgd-window.csv" | tail -3 || true
fi
echo "CSVs in $OUT"
exit $status
