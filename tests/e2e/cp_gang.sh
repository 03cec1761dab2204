#!/usr/bin/env bash
# End to end (control plane 2): an 8-task gang with 2 accelerators per task
# fills two 8-device agents (A100 and 910B): every task starts, the tasks
# run at the same time, each sees only its own devices through its vendor's
# variable, the devices on each node are disjoint, RANK covers 0..7 once and
# WORLD_SIZE is 8.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server
sc_make_agent_token
sc_start_agent node-a nvidia:A100:8
sc_start_agent node-b ascend:910B:8
sc_wait_nodes 2

# Each task prints its environment, then waits (bounded) until all 8 are up:
# the job succeeds only if the whole gang ran at once.
bar=$SC_SHARE/barrier
mkdir -p "$bar" && chmod 1777 "$bar"
cmd='echo "rank=$RANK world=$WORLD_SIZE local=$LOCAL_RANK index=$SUPERCELL_TASK_INDEX count=$SUPERCELL_TASK_COUNT job=$SUPERCELL_JOB_ID master=$MASTER_ADDR:$MASTER_PORT cuda=${CUDA_VISIBLE_DEVICES-unset} ascend=${ASCEND_RT_VISIBLE_DEVICES-unset} milli=${SUPERCELL_GPU_MILLI-unset}"
touch '"$bar"'/$SUPERCELL_TASK_INDEX
for i in $(seq 200); do [ $(ls '"$bar"' | wc -l) -ge 8 ] && exit 0; sleep 0.1; done
echo "gang barrier timed out"; exit 1'
id=$(sc_submit --name gang8 --tasks 8 --gpus 2 -- "$cmd")
sc_wait_job "$id" succeeded 40
job=$(sc_job "$id")
check_eq "tasks" "$(jq '.tasks | length' <<<"$job")" 8
check_eq "task states" "$(jq -r '[.tasks[].state] | unique | join(",")' <<<"$job")" succeeded
check_eq "attempts" "$(jq -r '[.tasks[].attempt] | unique | join(",")' <<<"$job")" 0
check_eq "devices per task" "$(jq -r '[.tasks[].devices | length] | unique | join(",")' <<<"$job")" 2
# 16 devices for 16 slots: 4 tasks on each node.
check_eq "tasks per node" "$(jq -r '[.tasks[].node] | group_by(.) | map("\(.[0])=\(length)") | join(" ")' <<<"$job")" \
  "node-a=4 node-b=4"
check_eq "vendor follows the node" \
  "$(jq -r '[.tasks[] | "\(.node)/\(.vendor)"] | unique | join(" ")' <<<"$job")" "node-a/nvidia node-b/ascend"

# Devices on each node: disjoint, all 8 used, as the job says.
for node in node-a node-b; do
  devs=$(jq -r --arg n "$node" '[.tasks[] | select(.node == $n) | .devices[]] | sort | map(tostring) | join(",")' <<<"$job")
  check_eq "devices of $node are disjoint and cover 0..7" "$devs" "0,1,2,3,4,5,6,7"
done

unset_or_empty() { [ "$1" = unset ] || [ -z "$1" ]; }
# What each task saw.
ranks=""
masters=""
for i in $(seq 0 7); do
  line=$("$SUPERCELL" logs "$id" --task "$i") || fail "logs --task $i"
  grep -q '^rank=' <<<"$line" || fail "task $i printed no environment: $line"
  node=$(jq -r --argjson i "$i" '.tasks[] | select(.index == $i) | .node' <<<"$job")
  want=$(jq -r --argjson i "$i" '.tasks[] | select(.index == $i) | .devices | map(tostring) | join(",")' <<<"$job")
  get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $line" | sed -n 1p; }
  check_eq "task $i RANK" "$(get rank)" "$i"
  check_eq "task $i WORLD_SIZE" "$(get world)" 8
  check_eq "task $i SUPERCELL_TASK_INDEX" "$(get index)" "$i"
  check_eq "task $i SUPERCELL_TASK_COUNT" "$(get count)" 8
  check_eq "task $i SUPERCELL_JOB_ID" "$(get job)" "$id"
  check_eq "task $i has no GPU share" "$(get milli)" unset
  if [ "$node" = node-a ]; then
    check_eq "task $i CUDA_VISIBLE_DEVICES (node-a)" "$(get cuda)" "$want"
    check "task $i on node-a sees no Ascend devices: $line" unset_or_empty "$(get ascend)"
  else
    check_eq "task $i ASCEND_RT_VISIBLE_DEVICES (node-b)" "$(get ascend)" "$want"
    check "task $i on node-b sees no CUDA devices: $line" unset_or_empty "$(get cuda)"
  fi
  echo "$(get local) $node" >>"$SC_TMP/local"
  ranks+="$(get rank) "
  masters+="$(get master) "
done
check_eq "RANK covers 0..7 once" "$(tr ' ' '\n' <<<"$ranks" | sed '/^$/d' | sort -n | tr '\n' ' ')" "0 1 2 3 4 5 6 7 "
check_eq "one MASTER_ADDR:MASTER_PORT for the gang" "$(tr ' ' '\n' <<<"$masters" | sed '/^$/d' | sort -u | wc -l)" 1
check "MASTER_ADDR:MASTER_PORT is set: $masters" grep -qE '^[^: ]+:[0-9]+ ' <<<"$masters"
check_eq "LOCAL_RANK is 0..3 on each node" "$(sort -k2,2 -k1n,1 "$SC_TMP/local" | awk '{print $2 ":" $1}' | tr '\n' ' ')" \
  "node-a:0 node-a:1 node-a:2 node-a:3 node-b:0 node-b:1 node-b:2 node-b:3 "

# All logs at once (no --task) carry all eight tasks' lines.
check_eq "logs of all tasks" "$("$SUPERCELL" logs "$id" | grep -c '^rank=')" 8
# Nothing is held once the gang is done.
check_eq "devices free afterwards" "$(sc_nodes_json | jq '[.nodes[].devices[].milli_used] | add')" 0

sc_finish
