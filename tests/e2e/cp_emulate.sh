#!/usr/bin/env bash
# End to end: an emulated fleet (docs/emulation.md). One `supercell agent
# --emulate 500` process registers 500 nodes of 8 A100s, regions spread
# round robin, over the real agent protocol; they run an array of 100
# `sleep 1` tasks, an array of 2,000 `sleep 0` tasks and a 2-task gang of
# whole nodes to completion (a log line each); a cancel ends a running
# emulated task, reported killed by
# SIGTERM as a real `sleep` would be; a second emulator with
# --emulate-fail-rate 1 fails its task with exit code 1 and stops cleanly
# on SIGTERM; kill -9 of the first loses all its 500 nodes and requeues the
# job that ran there. (bench/scale.sh runs the same at 10,000 nodes.)
# sc-cost: 9
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

N=500
sc_start_server
sc_make_agent_token
sc_spawn "$SC_TMP/emulator.log" "$SUPERCELL" agent --server "$SC_URL" \
  --token-file "$SC_TMP/agent.token" --emulate "$N" --devices nvidia:A100:8 --cpu 64000 \
  --memory 256Gi --emulate-label region=eu,cn
EMU=$SC_LAST_PID
t0=$(sc_now_ms)
wait_until 30 "$N emulated nodes" sc_has_ready "$N"
sc_log "$N emulated nodes registered in $(($(sc_now_ms) - t0)) ms"

# 1. The fleet: names PREFIX-00001..., 8 devices each, regions round robin.
nodes=$(sc_nodes_json)
check_eq "node names" "$(jq -r '[.nodes[].name] | sort | "\(length) \(first) \(last)"' <<<"$nodes")" \
  "$N emu-00001 emu-00$N"
check_eq "devices per node" "$(jq -c '[.nodes[].devices | length] | unique' <<<"$nodes")" "[8]"
check_eq "device model" "$(jq -r '[.nodes[].devices[].model] | unique | join(",")' <<<"$nodes")" A100
check_eq "regions round robin" \
  "$(jq -r '[.nodes[] | select(.name == "emu-00001" or .name == "emu-00002") | "\(.name)=\(.labels.region)"] | sort | join(" ")' <<<"$nodes")" \
  "emu-00001=eu emu-00002=cn"
check_eq "regions split evenly" \
  "$(jq -r '[.nodes[].labels.region] | group_by(.) | map("\(.[0])=\(length)") | join(" ")' <<<"$nodes")" \
  "cn=250 eu=250"

# 2. An array of sleep 1, a gang of two whole nodes, a job for region cn
#    only, and a long task.
arr=$(sc_submit --name arr --array 0-99 --gpus 1 -- sleep 1)
cn=$(sc_submit --name in-cn --region cn --gpus 1 -- sleep 0)
gang=$(sc_submit --name gang --tasks 2 --gpus 8 -- 'sleep 1; echo done')
long=$(sc_submit --name long --gpus 1 -- sleep 600)
sc_wait_state "$long" running 15
"$SUPERCELL" cancel "$long" >/dev/null || fail "cancel $long"
sc_wait_job "$long" cancelled 10
killed() { [ "$(sc_job "$long" | jq -r '.tasks[0].signal')" = 15 ]; }
wait_until 10 "the cancelled task's report: killed by SIGTERM" killed
SC_PASSED=$((SC_PASSED + 1))
sc_wait_job "$cn" succeeded 20
node=$(sc_job "$cn" | jq -r '.tasks[0].node')
check_eq "the region job's node $node is in cn" \
  "$(sc_nodes_json | jq -r --arg n "$node" '.nodes[] | select(.name == $n) | .labels.region')" cn
sc_wait_job "$arr" succeeded 20
check_eq "array elements succeeded" "$(sc_job "$arr" | jq -r .array.counts.succeeded)" 100
sc_wait_job "$gang" succeeded 20
job=$(sc_job "$gang")
check_eq "the gang spans two nodes" "$(jq '[.tasks[].node] | unique | length' <<<"$job")" 2
check_eq "the gang's exit codes" "$(jq -c '[.tasks[].exit_code]' <<<"$job")" "[0,0]"
check "an element's log line: $("$SUPERCELL" logs "${arr}_7")" \
  sc_logs_have "${arr}_7" '^emulated on emu-[0-9]{5}: exit 0 after 1\.[0-9]{3} s$'
devices_free() { [ "$(sc_nodes_json | jq '[.nodes[].devices[].milli_used] | add')" = 0 ]; }
wait_until 10 "every device free again" devices_free
SC_PASSED=$((SC_PASSED + 1))

# 3. An array of 2,000 `sleep 0` (alone: its 4,000 reports would queue
#    the cancel's report behind them on the emulator's shared connections).
t0=$(sc_now_ms)
fast=$(sc_submit --name fast --array 0-1999 --cpu 100 --memory 64Mi -- sleep 0)
sc_wait_job "$fast" succeeded 90
check_eq "all 2,000 sleep 0 elements succeeded" "$(sc_job "$fast" | jq -r .array.counts.succeeded)" 2000
sc_log "2,000 sleep 0 tasks ran in $(($(sc_now_ms) - t0)) ms"

# 4. A second emulator whose tasks all fail; it stops cleanly at the end
#    (sc_finish sends SIGTERM and wants exit status 0).
sc_spawn "$SC_TMP/emulator-bad.log" "$SUPERCELL" agent --server "$SC_URL" \
  --token-file "$SC_TMP/agent.token" --emulate 2 --emulate-prefix bad --devices nvidia:H100:8 \
  --cpu 64000 --memory 256Gi --emulate-fail-rate 1
SC_AGENT_PID[bad]=$SC_LAST_PID
wait_until 15 "the 2 failing nodes" sc_has_ready $((N + 2))
bad=$(sc_submit --name failing --model H100 --gpus 1 -- sleep 0)
sc_wait_job "$bad" failed 10
check_eq "the failing task's exit code" "$(sc_job "$bad" | jq -r '.tasks[0].exit_code')" 1

# 5. kill -9 of the emulator: its nodes are lost and its work requeued.
surv=$(sc_submit --name survivor --model A100 --gpus 8 --max-retries 2 -- sleep 600)
sc_wait_state "$surv" running 15
sc_crash "$EMU"
t0=$(sc_now_ms)
lost() { [ "$(sc_nodes_json | jq '[.nodes[] | select(.state == "lost" and (.name | startswith("emu-")))] | length')" = "$N" ]; }
wait_until 30 "all $N emulated nodes lost" lost
sc_log "$N nodes lost $(($(sc_now_ms) - t0)) ms after kill -9"
SC_PASSED=$((SC_PASSED + 1))
check_eq "the failing emulator's nodes stay" "$(sc_ready_count)" 2
requeued() { sc_job "$surv" | jq -e '.state == "pending" and .attempt == 1' >/dev/null; }
wait_until 10 "the job on a lost node to be requeued" requeued
SC_PASSED=$((SC_PASSED + 1))

sc_finish
