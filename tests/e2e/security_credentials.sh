#!/usr/bin/env bash
# Hostile use of credentials (issue: tenants cannot touch each other).
# Two agents, node-a and node-b, registered with a bootstrap token; beta's
# job runs on node-b. With node-a's own credential (which a tenant on
# node-a might steal) an attacker tries to report beta's task as exited,
# to append to or plant its logs, and to poll node-b's assignments: every
# attempt is refused and beta's result and logs are unchanged. Tokens can
# be listed (never their text), revoked at once and made to expire.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server
sc_make_agent_token
sc_start_agent node-a nvidia:A100:1
sc_start_agent node-b ascend:910B:1
sc_wait_nodes 2
J=(-H 'Content-Type: application/json')

# call TOKEN METHOD PATH [curl args...]: sets STATUS and BODY.
call() {
  local token=$1 method=$2 path=$3; shift 3
  STATUS=$(curl -s --max-time 10 -o "$SC_TMP/body" -w '%{http_code}' -X "$method" \
    -H "Authorization: Bearer $token" "$SC_URL$path" "$@") || STATUS="curl-failed-$?"
  BODY=$(cat "$SC_TMP/body")
}
expect_status() { check_eq "$1 (body: $BODY)" "$STATUS" "$2"; }

# Each agent swapped the bootstrap token for its node's own credential,
# kept 0600 in a 0700 state dir.
for n in node-a node-b; do
  wait_until 10 "$n's credential file" test -s "$SC_TMP/agent-$n/node.token"
  check_eq "$n's state dir mode" "$(stat -c %a "$SC_TMP/agent-$n")" 700
  check_eq "$n's credential file mode" "$(stat -c %a "$SC_TMP/agent-$n/node.token")" 600
done
# The controller's files are its user's only (umask 077): the state dir,
# the database and its WAL, the token files; and every file in the agents'
# state dirs (task specs, logs, exit files) is 0600.
check_eq "the controller's state dir mode" "$(stat -c %a "$SC_TMP/server")" 700
for f in "$SC_TMP"/server/supercell.db* "$SC_TMP"/server/*.token; do
  check_eq "$(basename "$f") mode" "$(stat -c %a "$f")" 600
done
check "no agent file readable by others: $(find "$SC_TMP"/agent-node-a/ "$SC_TMP"/agent-node-b/ -type f -perm /077 | head -3)" \
  test -z "$(find "$SC_TMP"/agent-node-a/ "$SC_TMP"/agent-node-b/ -type f -perm /077)"
cred_a=$(head -n1 "$SC_TMP/agent-node-a/node.token")

# beta's job runs on node-b and prints a marker, then waits.
beta_tok=$("$SUPERCELL" token create --tenant beta) || fail "token create --tenant beta"
mark="beta-$RANDOM$RANDOM"
id=$(SUPERCELL_TOKEN=$beta_tok sc_submit --name victim --gpus 1 --model 910B -- "echo $mark; sleep 3; echo done-$mark")
sc_wait_state "$id" running
wait_until 10 "beta's output" sc_logs_have "$id" "^$mark\$"
task="$id.0"

# 1. node-a's credential reports beta's task (on node-b) as exited 0.
call "$cred_a" POST /v1/agent/status "${J[@]}" --data \
  "{\"name\": \"node-b\", \"updates\": [{\"task_id\": \"$task\", \"state\": \"exited\", \"exit_code\": 0}]}"
expect_status "status for node-b with node-a's credential" 403
call "$cred_a" POST /v1/agent/status "${J[@]}" --data \
  "{\"name\": \"node-a\", \"updates\": [{\"task_id\": \"$task\", \"state\": \"exited\", \"exit_code\": 0}]}"
expect_status "status as node-a for a task of node-b" 200
check_eq "beta's job still runs" "$(sc_job_state "$id")" running

# 2. node-a's credential appends to beta's log, as itself or as node-b.
call "$cred_a" POST /v1/agent/logs "${J[@]}" --data \
  "{\"task_id\": \"$task\", \"offset\": 100000, \"data\": \"forged by node-a\\n\"}"
expect_status "log chunk for a task of node-b (not on node-a: 409, dropped by an agent)" 409
call "$cred_a" POST /v1/agent/logs "${J[@]}" --data \
  "{\"name\": \"node-b\", \"task_id\": \"$task\", \"offset\": 100000, \"data\": \"forged\\n\"}"
expect_status "log chunk naming node-b" 403

# 3. Logs planted for a job id that does not exist yet, or never will.
next=$(printf 'j-%06d' $((10#${id#j-} + 1)))
call "$cred_a" POST /v1/agent/logs "${J[@]}" --data \
  "{\"task_id\": \"$next.0\", \"offset\": 0, \"data\": \"planted\\n\"}"
expect_status "log chunk for a future job" 404
call "$cred_a" POST /v1/agent/logs "${J[@]}" --data \
  "{\"task_id\": \"j-999999.0\", \"offset\": 0, \"data\": \"$(head -c 60000 /dev/zero | tr '\0' x)\"}"
expect_status "log chunk for an unknown job" 404

# 4. node-a's credential polls node-b's assignments or heartbeats as node-b.
call "$cred_a" GET "/v1/agent/assignments?name=node-b&wait=0"
expect_status "polling node-b's assignments" 403
call "$cred_a" POST /v1/agent/heartbeat "${J[@]}" --data '{"name": "node-b", "running": []}'
expect_status "heartbeat as node-b" 403

# 5. The bootstrap token only registers.
call "$SC_AGENT_TOKEN" GET "/v1/agent/assignments?name=node-a&wait=0"
expect_status "bootstrap token polling" 403
call "$SC_AGENT_TOKEN" POST /v1/agent/logs "${J[@]}" --data \
  "{\"task_id\": \"$task\", \"offset\": 0, \"data\": \"x\"}"
expect_status "bootstrap token sending logs" 403

# beta's job ends as it would have, with its own output only.
sc_wait_job "$id" succeeded 20
out=$("$SUPERCELL" logs "$id")
check_eq "beta's output is intact" "$out" "$mark"$'\n'"done-$mark"
# The future job's output is its own: the planted chunk was not stored.
id2=$(sc_submit --name next -- "echo real-output")
check_eq "the next job's id" "$id2" "$next"
sc_wait_job "$id2" succeeded
check_eq "the next job's output" "$("$SUPERCELL" logs "$id2")" real-output

# 6. Token lifecycle: list (no secrets), revoke at once, expiry.
list=$("$SUPERCELL" token list -o json)
check "the list shows no token text" bash -c '! grep -qF -- "$1" <<<"$2" && ! grep -qF -- "$3" <<<"$2"' _ "$beta_tok" "$list" "$cred_a"
check_eq "node-a has one live credential" \
  "$(jq '[.tokens[] | select(.node == "node-a" and (.revoked | not))] | length' <<<"$list")" 1
"$SUPERCELL" token list >"$SC_TMP/list.txt" || fail "token list"
check "the table names node-b's credential" grep -qE '^tk-[0-9a-f]{12} +agent +node-b ' "$SC_TMP/list.txt"
beta_id=$(jq -r --arg t beta '.tokens[] | select(.tenant == $t) | .id' <<<"$list")
call "$beta_tok" GET /v1/jobs
expect_status "beta's token before revoke" 200
"$SUPERCELL" token revoke "$beta_id" >/dev/null || fail "token revoke $beta_id"
call "$beta_tok" GET /v1/jobs
expect_status "beta's token right after revoke" 401
check_eq "the list says revoked" "$("$SUPERCELL" token list -o json | jq -r --arg i "$beta_id" '.tokens[] | select(.id == $i) | .revoked')" true
short=$("$SUPERCELL" token create --tenant gamma --ttl 2s) || fail "token create --ttl 2s"
call "$short" GET /v1/jobs
expect_status "a fresh 2 s token" 200
sleep 2.2
call "$short" GET /v1/jobs
expect_status "the 2 s token after 2.2 s" 401
"$SUPERCELL" token revoke tk-000000000000 2>/dev/null && fail "revoking an unknown token succeeded"
SC_PASSED=$((SC_PASSED + 1))

# 7. A revoked node credential: the agent registers again with the
# bootstrap token and gets a new one; its work goes on.
a_id=$(jq -r '.tokens[] | select(.node == "node-a" and (.revoked | not)) | .id' <<<"$list")
"$SUPERCELL" token revoke "$a_id" >/dev/null || fail "token revoke node-a's credential"
call "$cred_a" POST /v1/agent/heartbeat "${J[@]}" --data '{"name": "node-a", "running": []}'
expect_status "node-a's revoked credential" 401
new_a() { [ -s "$SC_TMP/agent-node-a/node.token" ] && [ "$(head -n1 "$SC_TMP/agent-node-a/node.token")" != "$cred_a" ]; }
wait_until 15 "node-a's new credential" new_a
id3=$(sc_submit --name after --gpus 1 --model A100 -- "echo still-works")
sc_wait_job "$id3" succeeded 20

sc_finish
