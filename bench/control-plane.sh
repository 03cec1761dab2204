#!/usr/bin/env bash
# Control-plane benchmarks (submission throughput, latency, pass time): durable
# submissions from 8 clients with a kill -9 check, submission-to-start
# latency with a real agent, and the controller's scheduling pass over
# 1,000 pending jobs and 100 nodes. Loopback only, temp dirs, bounded.
# Usage: bench/control-plane.sh   (BUILD=build-dir, SUPERCELL=binary)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SC=${SUPERCELL:-$BUILD/supercell}
for b in bench_sched bench_submit bench_latency; do
  if [ ! -x "$BUILD/bench/$b" ]; then
    echo "control-plane.sh: $BUILD/bench/$b is missing: build first (make build)" >&2
    exit 2
  fi
done
"$BUILD/bench/bench_sched"
echo
"$BUILD/bench/bench_submit" --supercell "$SC" --clients 8 --duration 10
echo
"$BUILD/bench/bench_latency" --supercell "$SC" --jobs 200
echo
"$BUILD/bench/bench_latency" --supercell "$SC" --jobs 200 --plain
