#!/usr/bin/env bash
# End to end: production replays the simulator. The first 1,000 tasks of
# `supercell sim --workload default --seeds 42` go to a real controller
# (--policy fgd --fgd-target with the workload's pod list) on 1,213 emulated
# OpenB nodes, in the simulator's order and shapes; every task lands on the
# node and devices the simulator chose, and the allocation and
# fragmentation curves are equal (bench/bench_replay.c says how; the full
# replay is bench/replay-openb.sh). Then the same with bestfit, and a
# control: without the fixed target (the controller's window of recent
# tasks) FGD places differently, so the check can fail.
# Normal build only: 1,213 emulated nodes are slow under the sanitizers,
# and every path it drives (submit, pass, assignments) runs under them in
# the cp_* tests.
# sc-builds: normal
# sc-cost: 10
set -euo pipefail
. "$SC_E2E_LIB/common.sh"
REPLAY=${SC_BUILD_DIR:?}/bench/bench_replay
[ -x "$REPLAY" ] || { echo "FAIL: $REPLAY is missing" >&2; exit 1; }
out=$SC_TMP

run() { "$REPLAY" --supercell "$SUPERCELL" --data "$SC_SOURCE_DIR/data/openb" "$@"; }

run --tasks 1000 --policy fgd >"$out/fgd.txt" 2>&1 || { cat "$out/fgd.txt"; false; }
check "fgd: every placement equal" grep -q '^placements: 0 of 1000 differ; tasks the simulator failed but the controller placed: 0$' "$out/fgd.txt"
check "fgd: curves equal" grep -q 'max |diff| allocation 0.00 points, fragmentation 0.00 points' "$out/fgd.txt"

run --tasks 500 --policy bestfit >"$out/bestfit.txt" 2>&1 || { cat "$out/bestfit.txt"; false; }
check "bestfit: every placement equal" grep -q '^placements: 0 of 500 differ;' "$out/bestfit.txt"

rc=0
run --tasks 200 --policy fgd --fgd-target window >"$out/window.txt" 2>&1 || rc=$?
check_eq "without the fixed target the replay differs (exit 1)" "$rc" 1
check "and it says how many placements differ" grep -Eq '^placements: [1-9][0-9]* of 200 differ' "$out/window.txt"
sc_finish
