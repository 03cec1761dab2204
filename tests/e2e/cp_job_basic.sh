#!/usr/bin/env bash
# End to end (control plane 1): a one-task job runs on an agent, its stdout
# and stderr come back through `supercell logs`, its exit code is recorded;
# a command that exits 3 ends `failed` with the code in the reason.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server
sc_make_agent_token
sc_start_agent node-a nvidia:A100:8
sc_start_agent node-b ascend:910B:8
sc_wait_nodes 2

# 1. A shell command that succeeds; output on stdout and stderr.
word="hello-$RANDOM$RANDOM"
id=$(sc_submit --name greet -- "echo $word; echo to-stderr-$word >&2; exit 0")
check "job id format: $id" grep -qE '^j-[0-9]+$' <<<"$id"
sc_wait_job "$id" succeeded
job=$(sc_job "$id")
check_eq "name" "$(jq -r .name <<<"$job")" greet
check_eq "task count" "$(jq '.tasks | length' <<<"$job")" 1
check_eq "task state" "$(jq -r '.tasks[0].state' <<<"$job")" succeeded
check_eq "exit code" "$(jq -r '.tasks[0].exit_code' <<<"$job")" 0
check_eq "reason of a success" "$(jq -r '.reason' <<<"$job")" null
check "task ran on an agent" grep -qE '^node-[ab]$' <<<"$(jq -r '.tasks[0].node' <<<"$job")"
check "started_at and finished_at set" jq -e '.started_at != null and .finished_at != null' <<<"$job" >/dev/null
logs=$("$SUPERCELL" logs "$id") || fail "supercell logs $id exited non-zero"
check "stdout in logs: $logs" grep -qx "$word" <<<"$logs"
check "stderr in logs: $logs" grep -qx "to-stderr-$word" <<<"$logs"
logj=$("$SUPERCELL" logs -o json "$id")
check "logs -o json says done: $logj" jq -e '.done == true' <<<"$logj" >/dev/null
# The human view shows the state too.
"$SUPERCELL" job "$id" >"$SC_TMP/job.txt" || fail "supercell job $id"
check "job table shows succeeded: $(cat "$SC_TMP/job.txt")" grep -q succeeded "$SC_TMP/job.txt"

# 2. An argv command (no shell): arguments arrive as given.
id2=$(sc_submit --name argv -- printf '%s|%s\n' "a b" 'c$HOME')
sc_wait_job "$id2" succeeded
check_eq "argv output" "$("$SUPERCELL" logs "$id2")" 'a b|c$HOME'

# 3. A failing command ends failed with its exit code.
id3=$(sc_submit --name fails -- "echo before-failing; exit 3")
sc_wait_job "$id3" failed
job=$(sc_job "$id3")
check_eq "exit code of the failure" "$(jq -r '.tasks[0].exit_code' <<<"$job")" 3
check_eq "task state of the failure" "$(jq -r '.tasks[0].state' <<<"$job")" failed
reason=$(jq -r .reason <<<"$job")
check "reason names exit code 3: '$reason'" grep -q 'exit code 3' <<<"$reason"
check "output of the failed job" grep -qx before-failing <<<"$("$SUPERCELL" logs "$id3")"

# 4. A job killed by a signal says so.
id4=$(sc_submit --name killed -- 'kill -9 $$')
sc_wait_job "$id4" failed
job=$(sc_job "$id4")
check_eq "signal recorded" "$(jq -r '.tasks[0].signal' <<<"$job")" 9
check "reason names signal 9: $(jq -r .reason <<<"$job")" grep -q 'signal 9' <<<"$(jq -r .reason <<<"$job")"

# 5. The list shows all four with their states.
list=$("$SUPERCELL" jobs -o json)
check_eq "states in the list" "$(jq -r '[.jobs[] | .id + "=" + .state] | join(" ")' <<<"$list")" \
  "$id=succeeded $id2=succeeded $id3=failed $id4=failed"

# 6. A character split across log chunks (128 KiB each) arrives whole: the
# task writes 131,071 bytes, then the 3 bytes of a euro sign, then exits at
# once, so the agent ships both chunks after the exit.
id6=$(sc_submit --name utf8 -- "head -c 131071 /dev/zero | tr '\\0' a; printf '\\342\\202\\254\\n'")
sc_wait_job "$id6" succeeded
tail6=$("$SUPERCELL" logs "$id6" | tail -c 8 | od -An -c | tr -s ' ')
check_eq "the euro sign split across two chunks" "$tail6" " a a a a 342 202 254 \\n"

# 7. The API describes itself: the OpenAPI document, behind the token.
check "GET /v1/openapi.yaml serves OpenAPI 3" grep -q '^200 .*openapi: 3' <<<"$(sc_api GET /v1/openapi.yaml)"
check_eq "the document needs a token" \
  "$(curl -s -o /dev/null -w '%{http_code}' "$SC_URL/v1/openapi.yaml")" 401

# 8. Real responses match the OpenAPI document's schemas.
J=(-H 'Content-Type: application/json')
sc_api_schema POST /v1/jobs 201 "POST /v1/jobs 201" "${J[@]}" \
  --data '{"name": "schema", "command": ["true"], "env": {"A": "1"}, "resources": {"gpu_milli": 500}}'
sc_api_schema GET "/v1/jobs/$id" 200 Job
sc_api_schema GET "/v1/jobs/$id3" 200 "GET /v1/jobs/{id} 200"
sc_api_schema GET "/v1/jobs?limit=2" 200 "GET /v1/jobs 200"
sc_api_schema GET "/v1/jobs/$id/logs" 200 "GET /v1/jobs/{id}/logs 200"
sc_api_schema GET /v1/nodes 200 "GET /v1/nodes 200"
sc_api_schema GET /v1/jobs/j-999999 404 Error
sc_api_schema POST /v1/jobs 400 Error "${J[@]}" --data '{"name": "x"}'
sc_api_schema GET /healthz 200 "GET /healthz 200"
sc_api_schema GET /v1/stats 200 "GET /v1/stats 200"
sc_api_schema POST /v1/tokens 201 "POST /v1/tokens 201" "${J[@]}" --data '{"kind": "user", "tenant": "t1"}'
sc_api_schema POST /v1/agent/heartbeat 404 Error "${J[@]}" \
  --data '{"name": "no-such-node", "running": []}'
SUPERCELL_TOKEN=$SC_AGENT_TOKEN sc_api_schema POST /v1/agent/register 200 "POST /v1/agent/register 200" \
  "${J[@]}" --data '{"name": "schema-node", "cpu_milli": 1000, "memory_mib": 1024,
  "devices": [{"index": 0, "vendor": "nvidia", "model": "T4"}], "running": ["j-999999.0"]}'
cred=$(jq -r .credential "$SC_TMP/api.body")
check "a bootstrap registration returns the node's credential" grep -qE '^[0-9a-f]{64}$' <<<"$cred"
SUPERCELL_TOKEN=$cred sc_api_schema GET "/v1/agent/assignments?name=schema-node&wait=0" 200 \
  "GET /v1/agent/assignments 200"
sc_api_schema GET /v1/tokens 200 "GET /v1/tokens 200"

# YAML as users write it: unquoted numbers in command and env reach the
# task as the text they were written as.
printf 'name: yaml-numbers\ncommand: [python3, -c, "import os, sys; print(sys.argv[1:], os.environ[\x27EPOCHS\x27], os.environ[\x27LR\x27])", 0.001, 3, true]\nenv: {EPOCHS: 3, LR: 1e-3}\n' \
  >"$SC_TMP/numbers.yaml"
id=$("$SUPERCELL" submit -o json "$SC_TMP/numbers.yaml" | jq -r .id) || fail "submit numbers.yaml"
sc_wait_job "$id" succeeded
check_eq "YAML numbers as written" "$("$SUPERCELL" logs "$id")" "['0.001', '3', 'true'] 3 1e-3"

# Logs of a retried job: each attempt under its header; --attempt N alone;
# on a terminal control characters are escaped, --raw passes them.
id=$(sc_submit --name retried --max-retries 1 -- \
  'echo "run $SUPERCELL_ATTEMPT"; [ "$SUPERCELL_ATTEMPT" = 1 ] || exit 3')
sc_wait_job "$id" succeeded
check_eq "attempts under headers" "$("$SUPERCELL" logs "$id")" \
  "$(printf '== attempt 0 ==\nrun 0\n== attempt 1 (retry after: exit code 3) ==\nrun 1')"
check_eq "--attempt 0 alone" "$("$SUPERCELL" logs --attempt 0 "$id")" "run 0"
check_eq "the job lists its past attempt" "$(sc_job "$id" | jq -r '.attempts[0] | [.attempt, .reason] | join(" ")')" \
  "0 exit code 3"
id=$(sc_submit --name colours -- 'printf "\033[31mred\033[0m\ttab\n"')
sc_wait_job "$id" succeeded
tty_out=$(script -qec "$SUPERCELL logs $id" /dev/null | tr -d '\r')
check_eq "escaped on a terminal" "$tty_out" "$(printf '\\x1b[31mred\\x1b[0m\ttab')"
raw_out=$(script -qec "$SUPERCELL logs --raw $id" /dev/null | tr -d '\r')
check_eq "--raw passes them" "$raw_out" "$(printf '\033[31mred\033[0m\ttab')"

sc_finish
