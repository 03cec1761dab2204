#!/usr/bin/env bash
# How cost grows (issue #9, figure 7): bench/scale.sh at SIZES nodes (BUSY
# a fifth of them, TASKS ten per node), then a table of each figure by size
# with its growth from the smallest size, and an SVG plot (SVG=path,
# default docs/img/scale.svg) of registration time, idle CPU, throughput and
# submit-to-start p99 against the number of nodes.
# Usage: bench/scale-sweep.sh   (SIZES="1000 3000 10000", SVG=..., and
#        scale.sh's variables)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-1000 3000 10000}
SVG=${SVG:-docs/img/scale.svg}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/sc-scale-sweep.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
for n in $SIZES; do
  echo "#### $n nodes"
  sync # the last size's database writes are not this one's to flush
  FIGURES="$OUT/$n.csv" N=$n BUSY=$((n / 5)) TASKS=$((n * 10)) bench/scale.sh
done
python3 - "$OUT" "$SVG" $SIZES <<'PY'
import csv, math, sys
out, svg, sizes = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3:]]
figs = {n: dict(csv.reader(open(f"{out}/{n}.csv"))) for n in sizes}
rows = [("registration_s", "registration (s)", 30, "<"), ("idle_cpu_pct", "idle CPU (% of a core)", 25, "<"),
        ("idle_rss_mib", "idle RSS (MiB)", 1024, "<"), ("throughput_tps", "throughput (tasks/s)", 5000, ">="),
        ("start_p50_ms", "submit-to-start p50 (ms)", None, ""), ("start_p99_ms", "submit-to-start p99 (ms)", 100, "<"),
        ("loss_s", "mass loss, requeued (s)", None, ""), ("loss_api_p99_ms", "API p99 during loss (ms)", 100, "<"),
        ("crash_s", "crash, nodes back (s)", 60, "<")]
print("\n| figure | " + " | ".join(f"{n:,} nodes" for n in sizes) + f" | x{sizes[-1] // sizes[0]} nodes: growth | target |")
print("|---|" + "---|" * (len(sizes) + 2))
for key, label, target, op in rows:
    vals = [float(figs[n].get(key, "nan")) for n in sizes]
    growth = vals[-1] / vals[0] if vals[0] > 0 else float("nan")
    print(f"| {label} | " + " | ".join(f"{v:g}" for v in vals) + f" | x{growth:.2f} | {op} {target if target else '-'} |")
# Four panels, nodes on a log axis.
W, H, PW, PH = 1000, 300, 200, 180
panels = [("registration_s", "registration (s)", 30), ("idle_cpu_pct", "idle CPU (% core)", 25),
          ("throughput_tps", "throughput (tasks/s)", 5000), ("start_p99_ms", "submit-to-start p99 (ms)", 100)]
lx = lambda n: (math.log10(n) - math.log10(sizes[0])) / max(1e-9, math.log10(sizes[-1]) - math.log10(sizes[0]))
parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W/2}" y="18" text-anchor="middle" font-size="14">Supercell controller on 2 cores: cost against emulated nodes (8 GPUs each)</text>']
for i, (key, label, target) in enumerate(panels):
    x0, y0 = 50 + i * (PW + 40), 40
    vals = [float(figs[n].get(key, "nan")) for n in sizes]
    top = max([v for v in vals if v == v] + [target]) * 1.15
    py = lambda v: y0 + PH - v / top * PH
    parts.append(f'<rect x="{x0}" y="{y0}" width="{PW}" height="{PH}" fill="none" stroke="#999"/>')
    parts.append(f'<text x="{x0 + PW/2}" y="{y0 - 6}" text-anchor="middle">{label}</text>')
    parts.append(f'<line x1="{x0}" x2="{x0+PW}" y1="{py(target):.1f}" y2="{py(target):.1f}" stroke="#c33" stroke-dasharray="4,3"/>')
    parts.append(f'<text x="{x0+PW-2}" y="{py(target)-3:.1f}" text-anchor="end" fill="#c33" font-size="10">target {target:g}</text>')
    pts = " ".join(f"{x0 + lx(n) * PW:.1f},{py(v):.1f}" for n, v in zip(sizes, vals) if v == v)
    parts.append(f'<polyline points="{pts}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
    for n, v in zip(sizes, vals):
        if v == v:
            parts.append(f'<circle cx="{x0 + lx(n) * PW:.1f}" cy="{py(v):.1f}" r="3" fill="#1f77b4"/>')
            parts.append(f'<text x="{x0 + lx(n) * PW:.1f}" y="{py(v) - 6:.1f}" text-anchor="middle" font-size="10">{v:g}</text>')
        parts.append(f'<text x="{x0 + lx(n) * PW:.1f}" y="{y0 + PH + 14}" text-anchor="middle" font-size="10">{n:,}</text>')
    parts.append(f'<text x="{x0 + PW/2}" y="{y0 + PH + 30}" text-anchor="middle" font-size="10">nodes (log scale)</text>')
parts.append("</svg>")
open(svg, "w").write("\n".join(parts) + "\n")
print(f"\nplot: {svg}")
PY
