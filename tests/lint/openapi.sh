#!/usr/bin/env bash
# The OpenAPI document passes a standard validator (swagger-cli, pinned in
# scripts/npm and installed by scripts/install-deps), and the schema
# checker the e2e tests use accepts good documents and rejects bad ones.
set -euo pipefail
src=${SC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cli=$src/scripts/npm/node_modules/.bin/swagger-cli
[ -x "$cli" ] || { echo "FAIL: no swagger-cli at $cli (run scripts/install-deps)" >&2; exit 1; }
"$cli" validate "$src/docs/openapi.yaml"
check=$src/tests/e2e/lib/openapi_check.py
doc=$src/docs/openapi.yaml
# A Task as the controller writes it passes; a wrong type and a null where
# none is allowed are caught, with the field's path.
good='{"task_id": "j-000001.0", "index": 0, "state": "pending", "node": null, "devices": [],
       "vendor": null, "gpu_milli": 0, "exit_code": null, "signal": null, "attempt": 0,
       "pid": 0, "started_at": null, "finished_at": null}'
python3 "$check" "$doc" Task <<<"$good"
if out=$(python3 "$check" "$doc" Task <<<"${good/\"index\": 0/\"index\": \"0\"}"); then
  echo "FAIL: a string index passed the Task schema" >&2; exit 1
fi
grep -q "index" <<<"$out" || { echo "FAIL: the violation does not name 'index': $out" >&2; exit 1; }
if python3 "$check" "$doc" Task <<<"${good/\"pid\": 0/\"pid\": null}" >/dev/null; then
  echo "FAIL: a null pid passed the Task schema" >&2; exit 1
fi
python3 "$check" "$doc" "GET /healthz 200" <<<'{"status": "ok"}'
echo "lint/openapi: the document is valid; the schema checker works"
