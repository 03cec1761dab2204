#!/usr/bin/env bash
# A node cut off from the controller fences itself, so no job runs twice at
# once. Heartbeat timeout 2 s, grace 1 s, so the fence is at 4 s:
#   - node-a talks to the controller through a TCP proxy (socat) that the
#     test kills: its agent lives on, cut off, and stops its task at 4 s;
#   - node-c's agent is killed -9: no agent is left to stop its task, its
#     supervisor does it on its own at 4 s;
#   - both jobs (max_retries 1) are requeued when their node is lost (2 s)
#     but start on the spare nodes only after fence + grace (5 s), and
#     succeed there.
# Each task appends "NODE ATTEMPT NANOSECONDS" to a shared file every 50 ms;
# the last line of the old node must come before the first of the new.
# Jobs with on_disconnect: keep run on through the same outage: one on
# node-a continues when the proxy is back, one on node-c is requeued only
# when the operator drains the lost node.
# sc-cost: 12
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server --grace 1s
sc_make_agent_token
proxy_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sc_spawn "$SC_TMP/proxy.log" socat "TCP-LISTEN:$proxy_port,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$SC_PORT"
proxy=$SC_LAST_PID
wait_until 5 "the proxy" curl -sf "http://127.0.0.1:$proxy_port/healthz"
sc_start_agent node-a nvidia:A100:2 --server "http://127.0.0.1:$proxy_port"
sc_start_agent node-c ascend:910B:2
sc_wait_nodes 2

tick='while [ ! -e '"$SC_SHARE"'/release ]; do echo "$SUPERCELL_NODE $SUPERCELL_ATTEMPT $(date +%s%N)" >> '"$SC_SHARE"'/$SUPERCELL_JOB_ID; sleep 0.05; done'
ja=$(sc_submit --name cut-off --model A100 --gpus 1 --max-retries 1 -- "$tick")
jc=$(sc_submit --name agent-dead --model 910B --gpus 1 --max-retries 1 -- "$tick")
ka=$(sc_submit --name keep-a --model A100 --gpus 1 --max-retries 1 --on-disconnect keep -- "$tick")
kc=$(sc_submit --name keep-c --model 910B --gpus 1 --max-retries 1 --on-disconnect keep -- "$tick")
for j in "$ja" "$jc" "$ka" "$kc"; do
  sc_wait_state "$j" running
  wait_until 10 "$j's ticks" test -s "$SC_SHARE/$j"
done
check_eq "$ja runs on node-a" "$(sc_job "$ja" | jq -r '.tasks[0].node')" node-a
check_eq "$jc runs on node-c" "$(sc_job "$jc" | jq -r '.tasks[0].node')" node-c
# The spare nodes come now, so the first attempts were not placed there.
sc_start_agent node-b nvidia:A100:1
sc_start_agent node-d ascend:910B:2
sc_wait_nodes 4

cut_ms=$(sc_now_ms)
kill -TERM -- "-$proxy" 2>/dev/null
sc_crash "${SC_AGENT_PID[node-c]}"
unset 'SC_AGENT_PID[node-c]'
sc_log "cut node-a off and killed node-c's agent"

on_spare() { [ "$(sc_job "$1" | jq -r '[.attempt, .state, .tasks[0].node] | join(" ")')" = "1 running $2" ]; }
wait_until 20 "$ja's second attempt on node-b" on_spare "$ja" node-b
wait_until 20 "$jc's second attempt on node-d" on_spare "$jc" node-d
for j in "$ja" "$jc"; do wait_until 10 "$j's new ticks" grep -q " 1 " "$SC_SHARE/$j"; done
# The kept jobs ran on through the outage, on their first attempt.
sleep 1
for j in "$ka" "$kc"; do
  check_eq "$j (keep) still on its first attempt" "$(sc_job "$j" | jq -r '[.attempt, .state] | join(" ")')" "0 running"
  last=$(awk '$2 == 0 {t = $3} END {print t}' "$SC_SHARE/$j")
  check "$j (keep) kept running past the fence: last tick $((last / 1000000 - cut_ms)) ms after the cut" \
    [ $((last / 1000000 - cut_ms)) -gt 5500 ]
done
# node-a comes back (the proxy again): its kept job just continues.
sc_spawn "$SC_TMP/proxy2.log" socat "TCP-LISTEN:$proxy_port,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$SC_PORT"
wait_until 20 "node-a to be ready again" bash -c '[ "$("$1" nodes -o json | jq -r ".nodes[] | select(.name == \"node-a\") | .state")" = ready ]' _ "$SUPERCELL"
check_eq "$ka continues on node-a" "$(sc_job "$ka" | jq -r '[.attempt, .state, .tasks[0].node] | join(" ")')" "0 running node-a"
# node-c stays lost: draining it requeues its kept job (onto node-d).
"$SUPERCELL" nodes drain node-c >/dev/null || fail "nodes drain"
check_eq "node-c shows drained" "$(sc_nodes_json | jq -r '.nodes[] | select(.name == "node-c") | .drained')" true
wait_until 20 "$kc's second attempt on node-d" on_spare "$kc" node-d
sleep 0.5
touch "$SC_SHARE/release"
for j in "$ja" "$jc" "$ka" "$kc"; do sc_wait_job "$j" succeeded 20; done
check_eq "$ka succeeded on its first attempt" "$(sc_job "$ka" | jq -r .attempt)" 0

for j in "$ja" "$jc"; do
  old_last=$(awk '$2 == 0 {t = $3} END {print t}' "$SC_SHARE/$j")
  new_first=$(awk '$2 == 1 {print $3; exit}' "$SC_SHARE/$j")
  check "$j: both attempts ticked ($old_last, $new_first)" test -n "$old_last" -a -n "$new_first"
  sc_log "$j: old attempt's last tick $(((old_last / 1000000) - cut_ms)) ms after the cut, new attempt's first $(((new_first / 1000000) - cut_ms)) ms after"
  check "$j never ran twice at once: old ends $(((new_first - old_last) / 1000000)) ms before the new starts" [ "$old_last" -lt "$new_first" ]
  check "$j's old attempt was fenced, not left running: ended $(((old_last / 1000000) - cut_ms)) ms after the cut" \
    [ $((old_last / 1000000 - cut_ms)) -lt 8000 ]
  check "$j's new attempt waited for the fence (4 s)" [ $((new_first / 1000000 - cut_ms)) -ge 4000 ]
done
check "node-a's agent says it fenced" grep -q "fenced: no answer from the controller" "$SC_TMP/agent-node-a.log"
node_c_tasks() { grep -lzxsF "SUPERCELL_NODE=node-c" /proc/[0-9]*/environ 2>/dev/null; }
check "no process of node-c's task is left" test -z "$(node_c_tasks)"

sc_finish
