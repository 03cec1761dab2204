#!/usr/bin/env bash
# Simulator benchmark: correctness against the FGD paper (default workload,
# seeds 42..51), time per experiment, the full 1,020-experiment sweep, and
# scale-out with --scale K. Prints its figures; never part of `make test`.
# Usage: bench/sim-paper.sh [--quick]   (--quick skips K=100)
set -euo pipefail
cd "$(dirname "$0")/.."
SC=${SUPERCELL:-build/supercell}
REF=data/reference/fgd-paper-alloc-default.csv
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
quick=${1:-}

echo "== Correctness: default workload, seeds 42-51, vs the paper (per seed) =="
"$SC" sim --workload default --policy all --seeds 42-51 --out "$out/alloc.csv" \
  --out-frag "$out/frag.csv" --out-frag-ratio "$out/ratio.csv" --quiet
awk -F, '
  NR == FNR { if (FNR > 1) ref[$2 "," $4] = $0; next }
  FNR == 1 { next }
  {
    p = $2; key = p "," $4; split(ref[key], r, ",")
    for (i = 6; i <= NF; i++) {
      d = $i - r[i]; if (d < 0) d = -d
      if (d > maxd[p]) maxd[p] = d
      ours[p, i] += $i; paper[p, i] += r[i]
    }
    n[p]++; cols = NF
    if (!(p in seen)) { seen[p] = 1; order[++np] = p }
  }
  END {
    printf "%-11s %10s %9s %9s %9s %9s %13s %6s\n", "policy", "max|diff|", "ours@100", "paper@100",
           "ours@130", "paper@130", "mean max|d|", "pass"
    for (k = 1; k <= np; k++) {
      p = order[k]; md = 0
      for (i = 6; i <= cols; i++) { d = (ours[p, i] - paper[p, i]) / n[p]; if (d < 0) d = -d; if (d > md) md = d }
      tol = (p == "random") ? md <= 0.6 : maxd[p] <= 0.05
      printf "%-11s %10.2f %9.2f %9.2f %9.2f %9.2f %13.3f %6s\n", p, maxd[p],
             ours[p, 106] / n[p], paper[p, 106] / n[p], ours[p, cols] / n[p], paper[p, cols] / n[p],
             md, tol ? "yes" : "NO"
    }
    print "(deterministic policies: per-seed max |diff| <= 0.05; random: mean over seeds within 0.6)"
  }
' "$REF" "$out/alloc.csv"

echo
echo "== Fragmentation, default workload, mean over seeds 42-51 (paper values in brackets) =="
awk -F, '
  FNR == 1 { file++; next }
  file == 1 { a0[$2] += $5; a50[$2] += $55; a100[$2] += $105; n[$2]++ }
  file == 2 { r50[$2] += $55; r90[$2] += $95 }
  END {
    pa0["random"] = 13.97; pa50["random"] = 15.10; pa100["random"] = 13.49; pr50["random"] = 30.17; pr90["random"] = 96.65
    pa0["bestfit"] = 14.04; pa50["bestfit"] = 10.81; pa100["bestfit"] = 7.05; pr50["bestfit"] = 21.62; pr90["bestfit"] = 74.08
    pa0["fgd"] = 13.88; pa50["fgd"] = 8.93; pa100["fgd"] = 4.73; pr50["fgd"] = 17.86; pr90["fgd"] = 49.97
    printf "%-8s %16s %16s %16s %16s %16s\n", "policy", "amount@0", "amount@50", "amount@100", "ratio@50", "ratio@90"
    split("random bestfit fgd", ps, " ")
    for (k = 1; k <= 3; k++) {
      p = ps[k]; c = n[p]
      printf "%-8s %7.2f [%6.2f] %7.2f [%6.2f] %7.2f [%6.2f] %7.2f [%6.2f] %7.2f [%6.2f]\n", p,
        a0[p] / c, pa0[p], a50[p] / c, pa50[p], a100[p] / c, pa100[p], r50[p] / c, pr50[p], r90[p] / c, pr90[p]
    }
  }
' "$out/frag.csv" "$out/ratio.csv"

echo
echo "== One FGD experiment, default workload (1,213 nodes, ~10,800 tasks) =="
for i in 1 2 3 4 5; do
  /usr/bin/time -f "%e %M" -o "$out/t$i" "$SC" sim --policy fgd --seeds $((41 + i)) --jobs 1 \
    --quiet --out "$out/one.csv"
done
sort -n "$out"/t[1-5] | awk '{ t[NR] = $1; m = $2 } END { printf "whole command (load + run + write), median of 5: %.3f s, peak RSS %.1f MB\n", t[3], m / 1024 }'
"$SC" sim --policy fgd --seeds 42-51 --jobs 1 | awk '/^default/ { printf "placement loop only, mean of 10 seeds: %.3f s per experiment\n", $NF }'

echo
echo "== Full paper sweep: 17 workloads x 6 policies x 10 seeds, --jobs 2 =="
/usr/bin/time -f "%e %M" -o "$out/sweep" "$SC" sim --workload all --policy all --seeds 42-51 \
  --jobs 2 --out-dir "$out/sweep-dir" --quiet
awk '{ printf "1020 experiments: %.1f s wall, peak RSS %.1f MB\n", $1, $2 / 1024 }' "$out/sweep"

echo
echo "== Scale: --scale K replicates cluster and workload (FGD, seed 42, one experiment) =="
printf "%5s %8s %8s %9s %10s %9s %9s\n" K nodes gpus tasks seconds loop_s peak_MB
for k in 1 10 100; do
  [ "$k" = 100 ] && [ "$quick" = "--quick" ] && continue
  /usr/bin/time -f "%e %M" -o "$out/s$k" "$SC" sim --policy fgd --seeds 42 --scale "$k" \
    --jobs 1 --out "$out/s$k.csv" > "$out/s$k.txt"
  awk -v k="$k" 'NR == FNR { secs = $1; rss = $2; next }
    /^default/ { printf "%5d %8d %8d %9d %10.2f %9.2f %9.1f\n", k, 1213 * k, 6212 * k, $6, secs, $NF, rss / 1024 }' \
    "$out/s$k" "$out/s$k.txt"
done
