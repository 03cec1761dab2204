#!/usr/bin/env bash
# A job that no registered node could ever run is refused at submit (422),
# with a message naming what is missing, as Slurm refuses it; model names
# match in any case; --allow-pending accepts such a job anyway; a pending
# job says why it waits (Slurm's words) in the API, `jobs` and `job`.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server
sc_make_agent_token
sc_start_agent node-a nvidia:A100-80G:4 --cpu 64000 --memory 256Gi
sc_start_agent node-b nvidia:H100:2 --cpu 32000 --memory 128Gi
sc_start_agent node-c ascend:910B:8 --cpu 16000 --memory 64Gi
sc_wait_nodes 3

refused() { # WHAT MESSAGE SUBMIT-ARGS...: refused with that message, exit 1
  local what=$1 msg=$2 out rc=0; shift 2
  out=$("$SUPERCELL" submit --name x "$@" -- true 2>&1) || rc=$?
  check_eq "$what: exit status (message: $out)" "$rc" 1
  check "$what: says '$msg': $out" grep -qF -- "$msg" <<<"$out"
}
refused "4 x H100" "no node has 4 x H100 (largest: 2 x H100 on node-b)" --gpus 4 --model H100
refused "a model nobody has" "no node offers model V100; models: 910B, A100-80G, H100" \
  --gpus 1 --model V100
refused "a gang larger than the fleet" "the fleet runs at most 1 of this gang's 3 tasks at once" \
  --tasks 3 --gpus 8 --model 910B
refused "more CPU than any node" "no node has 99000 milli-CPU (largest: 64000 on node-a)" --cpu 99000
refused "more memory than any node" "no node has 512Gi of memory (largest: 256Gi on node-a)" \
  --memory 512Gi
status=$(curl -s -o "$SC_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $SC_ADMIN_TOKEN" \
  -H 'Content-Type: application/json' \
  -d '{"name": "x", "command": "true", "resources": {"gpus": 16}}' "$SC_URL/v1/jobs")
check_eq "the API answers 422" "$status" 422
check_eq "with the error contract" "$(jq -r '.error.code + " " + .error.field' "$SC_TMP/body")" \
  "unsatisfiable resources"

# Model names in any case.
id=$(sc_submit --name lower --gpus 1 --model a100-80g -- 'echo "$CUDA_VISIBLE_DEVICES"')
sc_wait_job "$id" succeeded
check_eq "a100-80g ran on node-a" "$(sc_job "$id" | jq -r '.tasks[0].node')" node-a

# --allow-pending: accepted, pending, saying why.
id=$(sc_submit --name growing --gpus 4 --model H100 --allow-pending -- true)
sleep 0.3
check_eq "accepted and pending" "$(sc_job_state "$id")" pending
check_eq "its reason" "$(sc_job "$id" | jq -r .pending_reason)" \
  "Unsatisfiable (no node has 4 x H100 (largest: 2 x H100 on node-b))"

# Resources: node-b's H100s are taken; the next H100 job waits for them,
# holding a backfill reservation there (the holder has no max runtime, so
# no time is known).
hold=$(sc_submit --name holder --gpus 2 --model H100 -- \
  'for i in $(seq 300); do [ -e '"$SC_SHARE"'/release ] && exit 0; sleep 0.1; done; exit 3')
sc_wait_state "$hold" running
wait_id=$(sc_submit --name waiter --gpus 1 --model H100 -- true)
resv="Resources (reserved: when jobs without a max runtime end, on node-b)"
has_reason() { [ "$(sc_job "$wait_id" | jq -r .pending_reason)" = "$resv" ]; }
wait_until 10 "the waiter's reason" has_reason
SC_PASSED=$((SC_PASSED + 1))
"$SUPERCELL" jobs >"$SC_TMP/jobs.txt"
check "jobs shows it: $(grep waiter "$SC_TMP/jobs.txt")" grep -qE "^$wait_id .*pending .*Resources" "$SC_TMP/jobs.txt"
check "job shows it" bash -c '"$1" job "$2" | grep -q "^REASON: *Resources"' _ "$SUPERCELL" "$wait_id"
# Priority: a lower-priority job behind the waiter waits for it (Slurm's
# Priority: a job ahead of it waits for resources too).
low=$(sc_submit --name low --gpus 1 --model H100 --priority -5 -- true)
has_priority() { [ "$(sc_job "$low" | jq -r .pending_reason)" = Priority ]; }
wait_until 10 "the low job's reason Priority" has_priority
SC_PASSED=$((SC_PASSED + 1))
check_eq "the waiter still says Resources" "$(sc_job "$wait_id" | jq -r .pending_reason)" "$resv"
touch "$SC_SHARE/release"
sc_wait_job "$wait_id" succeeded 20
sc_wait_job "$low" succeeded 20
check_eq "a job that ran has no pending reason" "$(sc_job "$wait_id" | jq -r .pending_reason)" null
"$SUPERCELL" cancel "$id" >/dev/null

sc_finish
