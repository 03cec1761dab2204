#!/usr/bin/env bash
# No dependency loop inside src/server or src/agent: neither between object
# files (who calls whom, read with nm) nor between modules' includes.
set -euo pipefail
src=${SC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
exec python3 "$src/tests/lint/deps.py" "$src" "${SC_BUILD_DIR:-$src/build}"
