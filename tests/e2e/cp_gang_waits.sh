#!/usr/bin/env bash
# End to end (control plane 3): a gang that does not fit while another job
# holds part of the capacity starts none of its tasks (no task assigned, no
# process started, no device reserved), and starts whole as soon as the
# capacity frees.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server
sc_make_agent_token
sc_start_agent node-a nvidia:A100:8
sc_start_agent node-b ascend:910B:8
sc_wait_nodes 2

# The holder takes 4 devices until we create $SC_SHARE/release (bounded wait).
hold='echo holding; for i in $(seq 600); do [ -e '"$SC_SHARE"'/release ] && exit 0; sleep 0.1; done; exit 1'
holder=$(sc_submit --name holder --gpus 4 -- "$hold")
sc_wait_state "$holder" running
check_eq "devices in use by the holder" "$(sc_nodes_json | jq '[.nodes[].devices[].milli_used] | add')" 4000

# The gang needs 8 x 2 = 16 devices of the 16; 12 are free.
mkdir -p "$SC_SHARE/started" && chmod 1777 "$SC_SHARE/started"
gcmd='touch '"$SC_SHARE"'/started/$SUPERCELL_TASK_INDEX
for i in $(seq 200); do [ $(ls '"$SC_SHARE"'/started | wc -l) -ge 8 ] && { echo "rank $RANK ran with the whole gang"; exit 0; }; sleep 0.1; done
echo "gang barrier timed out"; exit 1'
gang=$(sc_submit --name gang --tasks 8 --gpus 2 -- "$gcmd")
# Watch it for 3 s: pending, every task pending and unplaced, nothing started.
end=$(($(sc_now_ms) + 3000))
polls=0
while [ "$(sc_now_ms)" -lt "$end" ]; do
  job=$(sc_job "$gang")
  [ "$(jq -r .state <<<"$job")" = pending ] || fail "gang left pending while it cannot fit: $(jq -c . <<<"$job")"
  [ "$(jq -r '[.tasks[].state] | unique | join(",")' <<<"$job")" = pending ] ||
    fail "a task of the gang left pending: $(jq -c '[.tasks[] | {index, state, node, devices}]' <<<"$job")"
  [ "$(jq '[.tasks[] | select(.node != null or (.devices | length) > 0)] | length' <<<"$job")" = 0 ] ||
    fail "a task of the gang got a node or devices: $(jq -c '[.tasks[] | {index, node, devices}]' <<<"$job")"
  [ -z "$(ls "$SC_SHARE/started")" ] || fail "gang tasks started while it does not fit: $(ls "$SC_SHARE/started")"
  used=$(sc_nodes_json | jq '[.nodes[].devices[].milli_used] | add')
  [ "$used" = 4000 ] || fail "devices in use while the gang waits: $used, want 4000 (the holder's)"
  polls=$((polls + 1))
  sleep 0.2
done
check "watched the waiting gang ($polls polls)" [ "$polls" -ge 5 ]
check_eq "holder still running" "$(sc_job_state "$holder")" running

touch "$SC_SHARE/release"
sc_wait_job "$holder" succeeded
sc_wait_job "$gang" succeeded 30
job=$(sc_job "$gang")
check_eq "gang task states" "$(jq -r '[.tasks[].state] | unique | join(",")' <<<"$job")" succeeded
check_eq "every gang task started" "$(ls "$SC_SHARE/started" | sort -n | tr '\n' ' ')" "0 1 2 3 4 5 6 7 "
check_eq "gang ran once (attempt 0)" "$(jq -r '[.tasks[].attempt] | unique | join(",")' <<<"$job")" 0
check_eq "gang output" "$("$SUPERCELL" logs "$gang" | grep -c 'ran with the whole gang')" 8
# The gang started after the holder finished. The two times come from
# different processes (the holder's end as the controller recorded it, the
# gang's start by its node's supervisor), each rounded to the millisecond:
# 5 ms of slack.
hf=$(sc_job "$holder" | jq -r .finished_at)
gs=$(jq -r .started_at <<<"$job")
check "gang started ($gs) after the holder finished ($hf)" \
  [ "$(date -d "$gs" +%s%3N)" -ge $(($(date -d "$hf" +%s%3N) - 5)) ]

sc_finish
