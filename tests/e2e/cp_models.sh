#!/usr/bin/env bash
# End to end (control plane 5): an allowed-models constraint is honoured: a
# 910B-only job never lands on the A100 agent, even when the A100 agent is
# idle and the 910B agent is full (it waits instead), and an A100-only job
# lands on the A100 agent.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server
sc_make_agent_token
sc_start_agent node-a nvidia:A100:8
sc_start_agent node-b ascend:910B:8
sc_wait_nodes 2

wait_cmd() { echo 'echo "cuda=${CUDA_VISIBLE_DEVICES-unset} ascend=${ASCEND_RT_VISIBLE_DEVICES-unset}"; for i in $(seq 600); do [ -e '"$1"' ] && exit 0; sleep 0.1; done; exit 1'; }

# 1. Six 910B jobs of 1, 2 or 3 devices (12 in all; the 910B node has 8).
ids=()
for g in 1 2 3 1 2 3; do
  ids+=("$(sc_submit --name "ascend-$g" --gpus "$g" --model 910B -- "$(wait_cmd "$SC_SHARE/release")")")
done
# A gang of 910B tasks too.
gang=$(sc_submit --name ascend-gang --tasks 2 --gpus 1 --model 910B -- "$(wait_cmd "$SC_SHARE/release")")
ids+=("$gang")
# Let the scheduler place what fits (up to 8 devices' worth) and watch 3 s.
end=$(($(sc_now_ms) + 3000))
while [ "$(sc_now_ms)" -lt "$end" ]; do
  for id in "${ids[@]}"; do
    bad=$(sc_job "$id" | jq -r '[.tasks[] | select(.node != null and .node != "node-b")] | length')
    [ "$bad" = 0 ] || fail "910B-only job $id placed off node-b: $(sc_job "$id" | jq -c .tasks)"
  done
  a_used=$(sc_nodes_json | jq '[.nodes[] | select(.name == "node-a") | .devices[].milli_used] | add')
  [ "$a_used" = 0 ] || fail "the A100 node has devices in use: $a_used"
  sleep 0.2
done
b_used=$(sc_nodes_json | jq '[.nodes[] | select(.name == "node-b") | .devices[].milli_used] | add')
check "910B node is (partly) used: $b_used" [ "$b_used" -gt 0 ]
check "910B node is not over-committed: $b_used" [ "$b_used" -le 8000 ]
pending=0
for id in "${ids[@]}"; do [ "$(sc_job_state "$id")" = pending ] && pending=$((pending + 1)); done
check "jobs that do not fit on the 910B node wait ($pending pending) although node-a is idle" [ "$pending" -ge 1 ]
# The running ones see Ascend devices only.
for id in "${ids[@]}"; do
  [ "$(sc_job_state "$id")" = running ] || continue
  t=$(sc_job "$id" | jq -c '.tasks[0]')
  want=$(jq -r '.devices | map(tostring) | join(",")' <<<"$t")
  wait_until 10 "output of $id" sc_logs_have "$id" '^cuda='
  out=$("$SUPERCELL" logs "$id" | sed -n 1p)
  check "$id sees its Ascend devices and no CUDA device: $out" \
    grep -qE "^cuda=(unset)? ascend=$want\$" <<<"$out"
  check_eq "$id vendor" "$(jq -r .vendor <<<"$t")" ascend
done

# 2. An A100-only job goes to node-a, at once.
a100=$(sc_submit --name a100 --gpus 2 --model A100 -- "$(wait_cmd "$SC_SHARE/release")")
sc_wait_state "$a100" running
check_eq "A100 job's node" "$(sc_job "$a100" | jq -r '.tasks[0].node')" node-a

# 3. Release: everything finishes, every 910B task having run on node-b only.
touch "$SC_SHARE/release"
for id in "${ids[@]}" "$a100"; do sc_wait_job "$id" succeeded 30; done
for id in "${ids[@]}"; do
  check_eq "$id ran on" "$(sc_job "$id" | jq -r '[.tasks[].node] | unique | join(",")')" node-b
done
check_eq "the A100 job's vendor" "$(sc_job "$a100" | jq -r '.tasks[0].vendor')" nvidia
# The agents agree: node-a started only the A100 job's task.
check_eq "tasks started on node-a" "$(grep -o 'task j-[0-9]*\.[0-9]*: started' "$SC_TMP/agent-node-a.log" | cut -d' ' -f2 | tr '\n' ' ')" "$a100.0: "

sc_finish
