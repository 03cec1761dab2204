#!/usr/bin/env bash
# End to end: `supercell sim` reproduces the FGD paper's per-seed results on
# the default OpenB workload, writes identical bytes whatever --jobs is, and
# stops with `file:line: what` on bad input.
set -euo pipefail
SUPERCELL=${SUPERCELL:-build/supercell}
SRC=${SC_SOURCE_DIR:-.}
REF="$SRC/data/reference/fgd-paper-alloc-default.csv"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. Per-seed match for deterministic policies (two seeds, three policies).
"$SUPERCELL" sim --policy fgd,bestfit,packing --seeds 42,47 --jobs 2 \
  --out "$tmp/a2.csv" --out-frag "$tmp/f2.csv" --out-frag-ratio "$tmp/r2.csv" \
  --out-failed "$tmp/x2.csv" --plot "$tmp/fig.svg" --quiet
[ "$(wc -l < "$tmp/a2.csv")" -eq 7 ] || fail "expected 6 rows and a header"
head -1 "$tmp/a2.csv" | grep -q '^workload,policy,tune,seed,total_gpus,0,1,2,' || fail "header"
awk -F, -v OFS=, '
  NR == FNR { if (FNR > 1) ref[$2 "," $4] = $0; next }
  FNR == 1 { next }
  {
    key = $2 "," $4
    if (!(key in ref)) { print "no reference row for " key; bad = 1; next }
    if ($1 != "default" || $3 != "1.3" || $5 != "6212") { print "bad keys: " $0; bad = 1 }
    split(ref[key], r, ",")
    for (i = 6; i <= NF; i++) {
      d = $i - r[i]; if (d < 0) d = -d
      if (d > 0.05) { printf "%s col %d: %s vs paper %s\n", key, i - 6, $i, r[i]; bad = 1 }
    }
    rows++
  }
  END { if (rows != 6) { print "rows: " rows; bad = 1 }; exit bad }
' "$REF" "$tmp/a2.csv" || fail "allocation differs from the paper"
# Spot checkpoints of fgd-experiment.md section 7 (seed 42, 130 %).
grep -q '^default,fgd,1.3,42,6212,0.25,1.04,2.01,3.01,3.98,5.06,' "$tmp/a2.csv" || fail "fgd seed 42 start"
awk -F, '$2 == "fgd" && $4 == 42 && $NF != "95.29" { exit 1 }' "$tmp/a2.csv" || fail "fgd 130%"
awk -F, '$2 == "bestfit" && $4 == 42 && $NF != "93.13" { exit 1 }' "$tmp/a2.csv" || fail "bestfit 130%"
head -1 "$tmp/f2.csv" | grep -q '^workload,policy,tune,seed,0,1,' || fail "frag header"
head -1 "$tmp/x2.csv" | grep -q '^order,workload,policy,tune,seed,num_pod,cpu_milli,num_gpu,gpu_milli,gpu_type_req$' || fail "failed header"
[ "$(wc -l < "$tmp/x2.csv")" -gt 6 ] || fail "failed-task summary is empty"
grep -q '<svg' "$tmp/fig.svg" && grep -q '>fgd<' "$tmp/fig.svg" && grep -q 'Unallocated GPU' "$tmp/fig.svg" || fail "plot"

# 2. Determinism: the same arguments with one job give the same bytes.
"$SUPERCELL" sim --policy fgd,bestfit,packing --seeds 42,47 --jobs 1 \
  --out-dir "$tmp/one" --quiet
cmp "$tmp/a2.csv" "$tmp/one/alloc.csv" || fail "alloc differs with --jobs 1"
cmp "$tmp/f2.csv" "$tmp/one/frag.csv" || fail "frag differs with --jobs 1"
cmp "$tmp/r2.csv" "$tmp/one/frag_ratio.csv" || fail "frag ratio differs with --jobs 1"
cmp "$tmp/x2.csv" "$tmp/one/failed.csv" || fail "failed differs with --jobs 1"

# 3. Bad input: a clear message and a non-zero exit.
expect_error() { # expected-substring, args...
  local want=$1; shift
  if "$SUPERCELL" sim --quiet "$@" >"$tmp/out" 2>"$tmp/err"; then fail "accepted: $*"; fi
  grep -qF -- "$want" "$tmp/err" || { cat "$tmp/err" >&2; fail "message for $*: want '$want'"; }
}
expect_error "unknown policy 'tetris'" --policy fgd,tetris
expect_error "$tmp/none.csv: cannot open" --pods "$tmp/none.csv"
printf 'name,cpu_milli,memory_mib,num_gpu\np1,1000,10,1\n' > "$tmp/nocol.csv"
expect_error "$tmp/nocol.csv:1: missing column 'gpu_milli'" --pods "$tmp/nocol.csv"
printf 'name,cpu_milli,memory_mib,num_gpu,gpu_milli\np1,1000,10,1,500\np2,1000,10,x,500\n' > "$tmp/bad.csv"
expect_error "$tmp/bad.csv:3: bad value for 'num_gpu': \"x\"" --pods "$tmp/bad.csv"
expect_error "bad value for '--seeds'" --seeds 50-42
expect_error "unknown-workload.csv: cannot open" --workload unknown-workload

# 4. A custom pod file runs and is named after the file.
printf 'name,cpu_milli,memory_mib,num_gpu,gpu_milli\np1,1000,10,1,500\np2,2000,10,2,1000\n' > "$tmp/mini.csv"
"$SUPERCELL" sim --pods "$tmp/mini.csv" --policy fgd --seeds 1 --out "$tmp/mini_out.csv" --quiet
grep -q '^mini,fgd,1.3,1,6212,' "$tmp/mini_out.csv" || fail "custom pod file row"
echo "sim_paper: 1 passed, 0 failed"
