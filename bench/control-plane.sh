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
# Image tasks: an OCI image of busybox and coreutils' date (with its
# libraries), built here with umoci; the warm-up unpacks it (a warm cache).
if [ "$(id -u)" = 0 ] && command -v umoci >/dev/null && command -v crun >/dev/null &&
  command -v busybox >/dev/null; then
  img=$(mktemp -d "${TMPDIR:-/tmp}/sc-bench-image.XXXXXX")
  trap 'rm -rf "$img"' EXIT
  (cd "$img" && umoci init --layout layout && umoci new --image layout:bench &&
    umoci unpack --image layout:bench b >/dev/null && mkdir -p b/rootfs/bin b/rootfs/usr/bin &&
    cp "$(command -v busybox)" b/rootfs/bin/ && ln -s busybox b/rootfs/bin/sh &&
    cp /usr/bin/date b/rootfs/usr/bin/ &&
    for lib in $(ldd /usr/bin/date | grep -o '/[^ ]*'); do cp --parents "$lib" b/rootfs/; done &&
    umoci repack --image layout:bench b && umoci config --image layout:bench \
      --config.env PATH=/usr/bin:/bin) >/dev/null
  echo
  "$BUILD/bench/bench_latency" --supercell "$SC" --jobs 200 --image "oci:$img/layout:bench"
else
  echo "(image tasks skipped: needs root, umoci, crun and busybox: scripts/install-deps)"
fi
