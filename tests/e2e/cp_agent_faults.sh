#!/usr/bin/env bash
# End to end (control plane 7): agent faults.
# 1. kill -9 of an agent with running tasks: the node is lost after the
#    heartbeat timeout (2 s), a job with max_retries 1 is requeued onto the
#    other agent and completes, a job with max_retries 0 fails "node lost";
#    when the lost agent comes back it kills its stale tasks.
# 2. kill -9 of an agent then a restart with the same state dir adopts its
#    running tasks: same pids, still running, and their exit codes (also of a
#    task that ended while no agent was running) are recorded.
# sc-cost: 8
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

case_pids() {
  local f pid
  for f in $(grep -lzxsF "E2E_CASE=$1" /proc/[0-9]*/environ 2>/dev/null); do
    pid=${f#/proc/}; pid=${pid%/environ}
    [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" = Z ] || echo "$pid"
  done
}
alive() { [ -n "$(case_pids "$1")" ]; }
gone() { [ -z "$(case_pids "$1")" ]; }
node_is() { [ "$(sc_node_state "$1")" = "$2" ]; }
start_ticks() { cut -d' ' -f22 "/proc/$1/stat" 2>/dev/null; }

# Fencing off: a lost node's tasks live on here, so the test sees the agent
# kill them when it returns (security_fence tests the fence itself).
sc_start_server --fence-after 0
sc_make_agent_token
sc_start_agent node-a nvidia:A100:8
sc_wait_nodes 1

# ---- 1. Node lost, requeue, stale tasks killed on return.
mR="requeue-$RANDOM$RANDOM"
mF="noretry-$RANDOM$RANDOM"
# R finishes quickly on an Ascend node; on node-a it would run "forever".
r=$(sc_submit --name requeue --gpus 4 --max-retries 1 --env "E2E_CASE=$mR" -- \
  'if [ -n "${ASCEND_RT_VISIBLE_DEVICES:-}" ]; then echo "finished on ascend $ASCEND_RT_VISIBLE_DEVICES"; exit 0; fi; echo "running on nvidia"; sleep 1000; echo '"$mR")
f=$(sc_submit --name noretry --gpus 4 --model A100 --max-retries 0 --env "E2E_CASE=$mF" -- "sleep 1000; echo $mF")
sc_wait_state "$r" running
sc_wait_state "$f" running
wait_until 10 "R's process" alive "$mR"
wait_until 10 "F's process" alive "$mF"
check_eq "R's first node" "$(sc_job "$r" | jq -r '.tasks[0].node')" node-a
sc_start_agent node-b ascend:910B:8
sc_wait_nodes 2

t0=$(sc_now_ms)
sc_crash "${SC_AGENT_PID[node-a]}"
unset 'SC_AGENT_PID[node-a]'
check "tasks keep running without their agent" alive "$mR"
wait_until 10 "node-a to be lost" node_is node-a lost
ms=$(($(sc_now_ms) - t0))
check "node lost after the 2 s heartbeat timeout, not before (${ms} ms)" [ "$ms" -ge 1500 ]
check "node lost soon after the 2 s heartbeat timeout (${ms} ms)" [ "$ms" -le 6000 ]
sc_wait_job "$r" succeeded 20
job=$(sc_job "$r")
check_eq "R requeued onto node-b" "$(jq -r '.tasks[0].node' <<<"$job")" node-b
check_eq "R's attempt" "$(jq -r '.attempt' <<<"$job")" 1
check_eq "R's task attempt" "$(jq -r '.tasks[0].attempt' <<<"$job")" 1
rlogs=$("$SUPERCELL" logs "$r")
check "R's output from node-b: $rlogs" grep -q "^finished on ascend" <<<"$rlogs"
sc_wait_job "$f" failed 10
job=$(sc_job "$f")
check "F failed for the lost node: $(jq -r .reason <<<"$job")" grep -q 'node lost' <<<"$(jq -r .reason <<<"$job")"
check_eq "F's task state" "$(jq -r '.tasks[0].state' <<<"$job")" lost
# node-a's devices are no longer counted as in use.
check_eq "devices in use on the lost node" \
  "$(sc_nodes_json | jq '[.nodes[] | select(.name == "node-a") | .devices[].milli_used] | add')" 0

# The lost agent comes back (same state dir): it must kill R's and F's stale tasks.
check "stale tasks still running before node-a returns" alive "$mF"
sc_start_agent node-a nvidia:A100:8
wait_until 10 "node-a to be ready again" node_is node-a ready
wait_until 10 "node-a to kill its stale task of R" gone "$mR"
wait_until 10 "node-a to kill its stale task of F" gone "$mF"
check_eq "R still succeeded" "$(sc_job_state "$r")" succeeded
check_eq "F still failed" "$(sc_job_state "$f")" failed
check_eq "R's task still on node-b" "$(sc_job "$r" | jq -r '.tasks[0].node')" node-b

# ---- 2. Agent restart adopts its running tasks.
mA="adopt-$RANDOM$RANDOM"
wait_cmd() { # release-file exit-code
  echo 'echo "before $SUPERCELL_TASK_ID"; for i in $(seq 600); do [ -e '"$1"' ] && break; sleep 0.1; done; echo "after $SUPERCELL_TASK_ID"; exit '"$2"
}
t1=$(sc_submit --name adopt-7 --gpus 1 --model A100 --env "E2E_CASE=$mA-1" -- "$(wait_cmd "$SC_SHARE/rel1" 7)")
t2=$(sc_submit --name adopt-0 --gpus 1 --model A100 --env "E2E_CASE=$mA-2" -- "$(wait_cmd "$SC_SHARE/rel2" 0)")
t3=$(sc_submit --name adopt-5 --gpus 1 --model A100 --env "E2E_CASE=$mA-3" -- "$(wait_cmd "$SC_SHARE/rel3" 5)")
for t in "$t1" "$t2" "$t3"; do sc_wait_state "$t" running; done
for t in "$t1" "$t2" "$t3"; do
  wait_until 10 "output of $t" sc_logs_have "$t" '^before'
done
declare -A pid0 ticks0
for t in "$t1" "$t2" "$t3"; do
  pid0[$t]=$(sc_job "$t" | jq -r '.tasks[0].pid')
  check "$t has a live pid (${pid0[$t]})" [ -d "/proc/${pid0[$t]}" ]
  ticks0[$t]=$(start_ticks "${pid0[$t]}")
done
# The pid is the task's own process, or with namespaces the init whose
# child it is.
marked() {
  local p
  for p in "$1" $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
    grep -zqxF "$2" "/proc/$p/environ" 2>/dev/null && return 0
  done
  return 1
}
check "t1's pid carries its marker" marked "${pid0[$t1]}" "E2E_CASE=$mA-1"

sc_crash "${SC_AGENT_PID[node-a]}"
# t3 ends while no agent runs.
touch "$SC_SHARE/rel3"
wait_until 5 "t3's process to end" gone "$mA-3"
sc_start_agent node-a nvidia:A100:8
wait_until 10 "node-a ready after the restart" node_is node-a ready
sc_wait_job "$t3" failed 10
check_eq "t3's exit code, ended while no agent ran" "$(sc_job "$t3" | jq -r '.tasks[0].exit_code')" 5
# Stay past the heartbeat timeout: the adopted tasks must keep running.
sleep 3
for t in "$t1" "$t2"; do
  job=$(sc_job "$t")
  check_eq "$t still running after the restart" "$(jq -r .state <<<"$job")" running
  check_eq "$t same pid" "$(jq -r '.tasks[0].pid' <<<"$job")" "${pid0[$t]}"
  check_eq "$t same process (start time)" "$(start_ticks "${pid0[$t]}")" "${ticks0[$t]}"
  check_eq "$t attempt" "$(jq -r '.tasks[0].attempt' <<<"$job")" 0
done
check_eq "node-a never counted as lost in between" "$(sc_node_state node-a)" ready
touch "$SC_SHARE/rel1" "$SC_SHARE/rel2"
sc_wait_job "$t1" failed 10
sc_wait_job "$t2" succeeded 10
job=$(sc_job "$t1")
check_eq "t1's exit code" "$(jq -r '.tasks[0].exit_code' <<<"$job")" 7
check "t1's reason: $(jq -r .reason <<<"$job")" grep -q 'exit code 7' <<<"$(jq -r .reason <<<"$job")"
check_eq "t2's exit code" "$(sc_job "$t2" | jq -r '.tasks[0].exit_code')" 0
check_eq "t1's output across the restart" "$("$SUPERCELL" logs "$t1" | tr '\n' ' ')" "before $t1.0 after $t1.0 "
check_eq "t2's output across the restart" "$("$SUPERCELL" logs "$t2" | tr '\n' ' ')" "before $t2.0 after $t2.0 "

sc_finish
