#!/usr/bin/env bash
# End to end (control plane 4): fractional tasks (gpu_milli 250) share device
# indexes as the policy packs them; a task sees its one device and its share
# (SUPERCELL_GPU_MILLI); the share in use per device (nodes' milli_used)
# matches the tasks placed there and never exceeds 1000, so a fifth quarter
# on a one-device node waits until a quarter frees.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server
sc_make_agent_token
sc_start_agent node-a nvidia:A100:8
sc_start_agent node-b ascend:910B:8
sc_start_agent node-c nvidia:T4:1
sc_wait_nodes 3

# Tasks wait for their release file (bounded), printing what they see.
task_cmd() { # release-file
  echo 'echo "cuda=${CUDA_VISIBLE_DEVICES-unset} milli=${SUPERCELL_GPU_MILLI-unset}"; for i in $(seq 600); do [ -e '"$1"' ] && exit 0; sleep 0.1; done; exit 1'
}

# Every device's milli_used must be at most 1000; prints "node/index=milli" for used ones.
device_use() { sc_nodes_json | jq -r '[.nodes[] | .name as $n | .devices[] | select(.milli_used > 0) | "\($n)/\(.index)=\(.milli_used)"] | sort | join(" ")'; }
no_device_over_full() {
  local over
  over=$(sc_nodes_json | jq '[.nodes[].devices[] | select(.milli_used > 1000 or .milli_used < 0)] | length')
  [ "$over" = 0 ] || fail "a device has milli_used outside 0..1000: $(device_use)"
}

# 1. Eight quarter-device jobs on the A100 node, one after the other.
ids=()
for k in $(seq 8); do
  ids+=("$(sc_submit --name "quarter-$k" --gpu-milli 250 --model A100 -- "$(task_cmd "$SC_SHARE/release-a")")")
done
for id in "${ids[@]}"; do sc_wait_state "$id" running; done
no_device_over_full
: >"$SC_TMP/expect"
for id in "${ids[@]}"; do
  job=$(sc_job "$id")
  t=$(jq -c '.tasks[0]' <<<"$job")
  check_eq "$id node" "$(jq -r .node <<<"$t")" node-a
  check_eq "$id one device" "$(jq '.devices | length' <<<"$t")" 1
  check_eq "$id share" "$(jq .gpu_milli <<<"$t")" 250
  dev=$(jq '.devices[0]' <<<"$t")
  echo "node-a/$dev" >>"$SC_TMP/expect"
  # what the task saw (its first line is printed at once; wait for it)
  wait_until 10 "output of $id" sc_logs_have "$id" '^cuda='
  check_eq "$id environment" "$("$SUPERCELL" logs "$id")" "cuda=$dev milli=250"
done
# milli_used per device is 250 x the tasks the jobs say are there.
want=$(sort "$SC_TMP/expect" | uniq -c | awk '{printf "%s=%d\n", $2, $1 * 250}' | sort | tr '\n' ' ')
check_eq "milli_used per device matches the placed tasks" "$(device_use) " "$want"
check_eq "total share in use" "$(sc_nodes_json | jq '[.nodes[].devices[].milli_used] | add')" 2000
sc_log "quarters placed: $(device_use)"
shared=$(sort "$SC_TMP/expect" | uniq -c | awk '$1 > 1' | wc -l)
check "quarters share device indexes (used: $(device_use))" [ "$shared" -ge 1 ]
check "8 quarters packed on fewer than 8 devices (used: $(device_use))" [ "$(sort -u "$SC_TMP/expect" | wc -l)" -lt 8 ]
touch "$SC_SHARE/release-a"
for id in "${ids[@]}"; do sc_wait_job "$id" succeeded; done
check_eq "shares freed" "$(sc_nodes_json | jq '[.nodes[].devices[].milli_used] | add')" 0

# 2. Five quarters on the one-device T4 node: four fit, the fifth waits.
t4=()
for k in $(seq 4); do
  t4+=("$(sc_submit --name "t4-$k" --gpu-milli 250 --model T4 -- "$(task_cmd "$SC_SHARE/release-t4-$k")")")
done
for id in "${t4[@]}"; do sc_wait_state "$id" running; done
fifth=$(sc_submit --name t4-5 --gpu-milli 250 --model T4 -- "$(task_cmd "$SC_SHARE/release-t4-5")")
end=$(($(sc_now_ms) + 2000))
while [ "$(sc_now_ms)" -lt "$end" ]; do
  no_device_over_full
  st=$(sc_job_state "$fifth")
  [ "$st" = pending ] || fail "the fifth quarter on a full device is $st: $(sc_job "$fifth" | jq -c .tasks) ($(device_use))"
  sleep 0.2
done
check_eq "the full T4" "$(device_use)" "node-c/0=1000"
check_eq "the fifth quarter waits" "$(sc_job_state "$fifth")" pending
touch "$SC_SHARE/release-t4-2"
sc_wait_job "${t4[1]}" succeeded
sc_wait_state "$fifth" running
no_device_over_full
check_eq "the T4 after the swap" "$(device_use)" "node-c/0=1000"
check_eq "the fifth's device" "$(sc_job "$fifth" | jq -c '.tasks[0] | [.node, .devices, .gpu_milli]')" '["node-c",[0],250]'
touch "$SC_SHARE/release-t4-1" "$SC_SHARE/release-t4-3" "$SC_SHARE/release-t4-4" "$SC_SHARE/release-t4-5"
for id in "${t4[@]}" "$fifth"; do sc_wait_job "$id" succeeded; done

sc_finish
