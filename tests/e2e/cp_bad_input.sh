#!/usr/bin/env bash
# End to end (control plane 9): every bad input gets its status and a JSON
# error {"error": {"code", "message", "field"}} naming what is wrong:
# malformed JSON, unknown fields, wrong types, negative or impossible
# resources, a body over 1 MiB (413), a wrong content type (415), missing or
# bad tokens (401), the wrong kind of token (403); the server keeps serving
# afterwards; a tenant's token can neither see nor cancel another tenant's job.
# sc-cost: 8
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server
sc_make_agent_token
sc_start_agent node-a nvidia:A100:8
sc_wait_nodes 1

# call TOKEN METHOD PATH [curl args...]: sets STATUS and BODY.
call() {
  local token=$1 method=$2 path=$3; shift 3
  local auth=()
  [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
  STATUS=$(curl -s --max-time 10 -o "$SC_TMP/body" -w '%{http_code}' -X "$method" "${auth[@]}" \
    "$SC_URL$path" "$@") || STATUS="curl-failed-$?"
  BODY=$(cat "$SC_TMP/body")
}
# expect WHAT STATUS CODE FIELD MESSAGE-SUBSTRING: checks the last call (CODE is
# an extended regex: the contract fixes the statuses, not every code).
# FIELD "-" skips the field check; "null" wants no field.
expect() {
  local what=$1 status=$2 code=$3 field=$4 msg=$5 got
  [ "$STATUS" = "$status" ] || fail "$what: status $STATUS, want $status; body: $BODY"
  jq -e '.error | type == "object"' <<<"$BODY" >/dev/null 2>&1 ||
    fail "$what: no JSON error object in the body: $BODY"
  got=$(jq -r '.error.code' <<<"$BODY")
  [[ $got =~ ^($code)$ ]] || fail "$what: error.code '$got', want '$code'; body: $BODY"
  if [ "$field" != - ]; then
    got=$(jq -r '.error.field // "null"' <<<"$BODY")
    [ "$got" = "$field" ] || fail "$what: error.field '$got', want '$field'; body: $BODY"
  fi
  got=$(jq -r '.error.message' <<<"$BODY")
  grep -qiF -- "$msg" <<<"$got" || fail "$what: message '$got' does not mention '$msg'"
  SC_PASSED=$((SC_PASSED + 1))
}
J=(-H 'Content-Type: application/json')
submit_raw() { call "$SC_ADMIN_TOKEN" POST /v1/jobs "${J[@]}" --data-binary "$1"; }

# ---- Malformed and non-object bodies.
submit_raw '{"name": "x",'
expect "truncated JSON" 400 "bad_json|bad_request" - json
submit_raw '{"name": "x", "command": "true"} trailing'
expect "trailing garbage" 400 "bad_json|bad_request" - json
submit_raw ''
expect "empty body" 400 "bad_json|bad_request" - ""
submit_raw '[1, 2]'
expect "array body" 400 "bad_json|bad_request" - object
submit_raw $'{"name": "x", "command": "\xff\xfe"}'
expect "invalid UTF-8" 400 "bad_json|bad_request" - ""

# ---- Unknown fields, named.
submit_raw '{"name": "x", "command": "true", "colour": "red"}'
expect "unknown top-level field" 400 bad_request colour colour
submit_raw '{"name": "x", "command": "true", "resources": {"gpuz": 1}}'
expect "unknown resources field" 400 bad_request resources.gpuz gpuz

# ---- Missing required fields.
submit_raw '{"command": "true"}'
expect "missing name" 400 bad_request name name
submit_raw '{"name": "x"}'
expect "missing command" 400 bad_request command command

# ---- Wrong types.
bad_field() { # field-path json-fragment message
  submit_raw "$(jq -cn --argjson b "{$2}" '{"name": "x", "command": "true"} + $b')"
  expect "wrong value for $1: $2" 400 bad_request "$1" "$3"
}
bad_field name '"name": 7' name
bad_field name '"name": "has space"' name
bad_field command '"command": 5' command
bad_field command '"command": []' command
bad_field tasks '"tasks": "eight"' tasks
bad_field tasks '"tasks": 2.5' tasks
bad_field priority '"priority": true' priority
bad_field models '"models": "A100"' models
bad_field resources '"resources": 3' resources
bad_field resources.gpus '"resources": {"gpus": "2"}' gpus
bad_field resources.cpu_milli '"resources": {"cpu_milli": "lots"}' cpu_milli
# ---- Negative, out of range and impossible resources.
bad_field resources.gpus '"resources": {"gpus": -1}' gpus
bad_field resources.gpus '"resources": {"gpus": 17}' gpus
bad_field resources.cpu_milli '"resources": {"cpu_milli": -5}' cpu_milli
bad_field resources.gpu_milli '"resources": {"gpu_milli": 1500}' gpu_milli
bad_field resources.gpu_milli '"resources": {"gpu_milli": -250}' gpu_milli
bad_field resources.memory '"resources": {"memory": "12Zi"}' memory
bad_field resources.memory '"resources": {"memory": -1}' memory
bad_field tasks '"tasks": 0' tasks
bad_field tasks '"tasks": 5000' tasks
bad_field priority '"priority": 5000' priority
bad_field max_retries '"max_retries": -1' max_retries
bad_field max_runtime '"max_runtime": "forever"' max_runtime
# A fraction of a device together with several whole devices is impossible.
submit_raw '{"name": "x", "command": "true", "resources": {"gpus": 2, "gpu_milli": 250}}'
expect "gpus 2 with gpu_milli 250" 400 bad_request - gpu_milli
check "gpus+gpu_milli names a resources field: $BODY" jq -e '.error.field | startswith("resources.gpu")' <<<"$BODY" >/dev/null

# ---- Size and content type.
big=$SC_TMP/big.json
{ printf '{"name": "big", "command": "'; head -c 1200000 /dev/zero | tr '\0' a; printf '"}'; } >"$big"
call "$SC_ADMIN_TOKEN" POST /v1/jobs "${J[@]}" --data-binary "@$big"
expect "body over 1 MiB" 413 too_large - "1 MiB"
call "$SC_ADMIN_TOKEN" POST /v1/jobs -H 'Content-Type: text/plain' --data-binary '{"name": "x", "command": "true"}'
expect "text/plain body" 415 unsupported_media_type - application/json

# ---- Tokens.
call "" GET /v1/jobs
expect "no token" 401 unauthorized - token
call "0000000000000000000000000000000000000000000000000000000000000000" GET /v1/jobs
expect "unknown token" 401 unauthorized - token
call "not-hex" GET /v1/jobs
expect "malformed token" 401 unauthorized - token
call "" GET /v1/jobs -H "Authorization: Basic $SC_ADMIN_TOKEN"
expect "Basic instead of Bearer" 401 unauthorized - ""
ua=$("$SUPERCELL" token create --tenant tenant-a) || fail "token create --tenant tenant-a"
ub=$("$SUPERCELL" token create --tenant tenant-b) || fail "token create --tenant tenant-b"
reg='{"name": "evil", "cpu_milli": 1000, "memory_mib": 1024, "labels": {}, "devices": [], "running": []}'
call "$ua" POST /v1/agent/register "${J[@]}" --data-binary "$reg"
expect "user token registering a node" 403 forbidden - ""
call "$ua" GET "/v1/agent/assignments?name=node-a&wait=0"
expect "user token polling assignments" 403 forbidden - ""
call "$ua" POST /v1/tokens "${J[@]}" --data-binary '{"kind": "user", "tenant": "tenant-a"}'
expect "user token creating tokens" 403 forbidden - ""
call "$SC_AGENT_TOKEN" POST /v1/jobs "${J[@]}" --data-binary '{"name": "x", "command": "true"}'
expect "agent token submitting a job" 403 forbidden - ""
call "$SC_AGENT_TOKEN" GET /v1/jobs
expect "agent token listing jobs" 403 forbidden - ""
check_eq "no node 'evil' registered" "$(sc_nodes_json | jq '[.nodes[] | select(.name == "evil")] | length')" 0
# The agent API validates too.
call "$SC_AGENT_TOKEN" POST /v1/agent/register "${J[@]}" --data-binary '{"name": 5}'
expect "agent register with a bad name" 400 bad_request - name
# A wait that is not an integer in 0..60 is refused (it was read as 0).
node_a=$("$SUPERCELL" token create --kind agent --node node-a) || fail "token create --node node-a"
for w in abc 5x -1 61 ''; do
  call "$node_a" GET "/v1/agent/assignments?name=node-a&wait=$w"
  expect "assignments with wait='$w'" 400 bad_request wait "'wait' must be an integer between 0 and 60"
done

# ---- Routes and query arguments.
call "$SC_ADMIN_TOKEN" GET /v1/jobs/j-999999
expect "unknown job" 404 not_found - "no such job"
call "$SC_ADMIN_TOKEN" GET /v1/nowhere
expect "unknown path" 404 not_found - ""
call "$SC_ADMIN_TOKEN" DELETE /v1/jobs
expect "wrong method" 405 method_not_allowed - ""
call "$SC_ADMIN_TOKEN" GET '/v1/jobs?state=bogus'
expect "bad state filter" 400 bad_request state state
call "$SC_ADMIN_TOKEN" GET '/v1/jobs?limit=0'
expect "bad limit" 400 bad_request limit limit

# ---- The input contract: canonical ids, exact media types, blank commands,
# caps, the HTTP library's own limits answered as JSON, agent devices.
for id in j-1 'j-000001%00' 'j-0000001' 'J-000001' 'j-000001.0'; do
  call "$SC_ADMIN_TOKEN" GET "/v1/jobs/$id"
  expect "a non-canonical job id ($id)" 404 not_found - "no such job"
done
call "$SC_ADMIN_TOKEN" POST /v1/jobs -H 'Content-Type: application/jsonx' --data-binary '{"name": "x", "command": "true"}'
expect "Content-Type application/jsonx" 415 unsupported_media_type - "application/json"
call "$SC_ADMIN_TOKEN" POST /v1/jobs -H 'Content-Type: application/json; charset=utf-8' --data-binary '{"name": "x", "command": "   "}'
expect "a blank command (with a charset parameter, accepted)" 400 bad_request command blank
submit_raw '{"name": "x", "command": ["\t"]}'
expect "a blank command word" 400 bad_request command blank
submit_raw '{"name": "x", "command": "true", "resources": {"memory": "99999999Ti"}}'
expect "a memory string past the integer cap" 400 bad_request resources.memory "1048576Ti"
submit_raw '{"name": "x", "command": "true", "user": "root"}'
expect "a job asking for root" 400 bad_request user "never run as root"
call "$SC_ADMIN_TOKEN" GET "/v1/jobs?after=$(head -c 10000 /dev/zero | tr '\0' a)"
expect "a URI over 8 KiB" 414 uri_too_long - URI
call "$SC_ADMIN_TOKEN" GET /v1/jobs -H "X-Big: $(head -c 40000 /dev/zero | tr '\0' a)"
expect "headers over 32 KiB" 431 headers_too_large - headers
for dev in '{"index": 0, "vendor": "nvidia", "model": "A100"}, {"index": 0, "vendor": "nvidia", "model": "A100"}' \
  '{"index": -1, "vendor": "nvidia", "model": "A100"}' '{"index": 0, "vendor": "nv/idia", "model": "A100"}' \
  '{"index": 0, "vendor": "nvidia", "model": "A|100"}' '{"index": 0, "vendor": "nvidia", "model": "A100\u0001"}' \
  '{"index": 0, "vendor": "", "model": "A100"}'; do
  call "$SC_AGENT_TOKEN" POST /v1/agent/register "${J[@]}" --data-binary \
    '{"name": "node-x", "cpu_milli": 1000, "memory_mib": 1024, "devices": ['"$dev"']}'
  expect "agent register with devices $dev" 400 bad_request - "device"
done

# ---- Tenant isolation.
sc_rel=$SC_TMP/release
spec_a=$(jq -cn --arg c "for i in \$(seq 600); do [ -e $sc_rel ] && exit 0; sleep 0.1; done" '{"name": "a-job", "tenant": "tenant-b", "command": $c}')
call "$ua" POST /v1/jobs "${J[@]}" --data-binary "$spec_a"
[ "$STATUS" = 201 ] || fail "tenant A's submission: $STATUS $BODY"
ja=$(jq -r .id <<<"$BODY")
check_eq "a user token submits as its own tenant" "$(jq -r .tenant <<<"$BODY")" tenant-a
jb=$(SUPERCELL_TOKEN=$ub sc_submit --name b-job -- true)
sc_wait_state "$ja" running
call "$ub" GET "/v1/jobs/$ja"
check "tenant B cannot see A's job (GET: $STATUS)" grep -qE '^(403|404)$' <<<"$STATUS"
call "$ub" GET "/v1/jobs/$ja/logs"
check "tenant B cannot read A's logs ($STATUS)" grep -qE '^(403|404)$' <<<"$STATUS"
call "$ub" POST "/v1/jobs/$ja/cancel"
check "tenant B cannot cancel A's job ($STATUS)" grep -qE '^(403|404)$' <<<"$STATUS"
if SUPERCELL_TOKEN=$ub "$SUPERCELL" cancel "$ja" >/dev/null 2>&1; then fail "CLI cancel of another tenant's job succeeded"; fi
call "$ub" GET '/v1/jobs?tenant=tenant-a'
check_eq "tenant B's list (even asking for tenant-a)" "$(jq -r '[.jobs[].id] | join(",")' <<<"$BODY")" "$jb"
call "$ua" GET /v1/jobs
check_eq "tenant A's list" "$(jq -r '[.jobs[].id] | join(",")' <<<"$BODY")" "$ja"
check_eq "A's job still running after B's attempts" "$(sc_job_state "$ja")" running
check_eq "admin sees both tenants" "$("$SUPERCELL" jobs -o json | jq -r '[.jobs[] | .tenant] | sort | join(",")')" "tenant-a,tenant-b"
call "$ua" POST "/v1/jobs/$ja/cancel"
check_eq "tenant A cancels its own job" "$STATUS" 200
sc_wait_job "$ja" cancelled

# ---- The CLI reports bad input with a message and a non-zero exit.
cli_rejects() { # what expected-message args...
  local what=$1 msg=$2 rc=0; shift 2
  "$SUPERCELL" "$@" >"$SC_TMP/cli.out" 2>"$SC_TMP/cli.err" || rc=$?
  [ "$rc" -ne 0 ] || fail "CLI accepted $what: $(cat "$SC_TMP/cli.out")"
  grep -qiF -- "$msg" "$SC_TMP/cli.err" || fail "CLI message for $what: '$(cat "$SC_TMP/cli.err")' lacks '$msg'"
  SC_PASSED=$((SC_PASSED + 1))
}
printf 'name: yaml-job\ncommand: "true"\ncolour: red\n' >"$SC_TMP/bad.yaml"
cli_rejects "a YAML spec with an unknown field" colour submit "$SC_TMP/bad.yaml"
cli_rejects "negative --gpus" gpus submit --gpus -1 -- true
# The CLI checks the server's ranges itself (it would reach no server here).
for flag in "--gpu-milli 1000" "--gpu-milli 0" "--cpu 0" "--tasks 4097" "--max-retries 101" "--memory 2000000Ti"; do
  SUPERCELL_SERVER=http://127.0.0.1:1 cli_rejects "$flag" "${flag%% *}" submit $flag -- true
done
{ echo 'name: laughs'; echo 'command: "true"'; echo 'a: &a ["x","x","x","x","x","x","x","x","x","x"]'
  prev=a; for l in b c d e f g h; do echo "$l: &$l [*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev]"; prev=$l; done
  echo "env: {X: *h}"; } >"$SC_TMP/laughs.yaml"
cli_rejects "a YAML alias bomb" "100000 values" submit "$SC_TMP/laughs.yaml"
{ echo 'name: big'; echo 'command: "true"'; printf 'env: {X: "%s"}\n' "$(head -c 1100000 /dev/zero | tr '\0' a)"; } >"$SC_TMP/big.yaml"
cli_rejects "a spec over 1 MiB" "larger than 1 MiB" submit "$SC_TMP/big.yaml"
cli_rejects "an unknown job" "no such job" job j-999999
SUPERCELL_TOKEN=0000000000000000000000000000000000000000000000000000000000000000 \
  cli_rejects "a bad token" token jobs

# ---- Still serving: health, a valid job runs to completion, nothing was created by the bad requests.
call "" GET /healthz
check_eq "healthz after the bad input" "$STATUS $(jq -r .status <<<"$BODY")" "200 ok"
ok=$(sc_submit --name after-bad-input -- echo still-serving)
sc_wait_job "$ok" succeeded
check_eq "output after the bad input" "$("$SUPERCELL" logs "$ok")" still-serving
check_eq "jobs created in all" "$("$SUPERCELL" jobs -o json | jq '.jobs | length')" 3

sc_finish
