#!/usr/bin/env bash
# End to end (control plane 6): cancelling a job ends its whole process
# group: a task that spawns children is gone (every process, found by a
# marker in its command line and environment) soon after the cancel; a
# task whose processes ignore SIGTERM is killed with SIGKILL after the grace
# period (the controller runs with --grace 2s), not before; the job ends
# `cancelled` (reason "cancelled by user") and a second cancel is a conflict.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

GRACE_S=2
sc_start_server --grace "${GRACE_S}s"
sc_make_agent_token
sc_start_agent node-a nvidia:A100:8
sc_start_agent node-b ascend:910B:8
sc_wait_nodes 2

# Pids of the processes carrying E2E_CASE=$1 in their environment.
case_pids() {
  local f pid
  for f in $(grep -lzxsF "E2E_CASE=$1" /proc/[0-9]*/environ 2>/dev/null); do
    pid=${f#/proc/}; pid=${pid%/environ}
    [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" = Z ] || echo "$pid"
  done
}
count() { wc -w <<<"$1"; }
none_left() { [ -z "$(case_pids "$1")" ] && [ -z "$(sc_pids_with "$1")" ]; }

# 1. A task that spawns children that obey SIGTERM.
m1="cancel-tree-$RANDOM$RANDOM"
id=$(sc_submit --name tree --gpus 1 --env "E2E_CASE=$m1" -- \
  "for i in 1 2 3; do sh -c 'sleep 1000; echo $m1' & done; echo started; wait")
sc_wait_state "$id" running
wait_until 10 "the task's 7 processes" eval '[ "$(count "$(case_pids '"$m1"')")" -ge 7 ]'
check_eq "children with the marker in their command line" "$(count "$(sc_pids_with "$m1")")" 4
t0=$(sc_now_ms)
out=$("$SUPERCELL" cancel "$id") || fail "supercell cancel $id"
sc_wait_job "$id" cancelled 10
wait_until 10 "no process of the cancelled task" none_left "$m1"
ms=$(($(sc_now_ms) - t0))
check "the process tree ended within the grace period (${ms} ms)" [ "$ms" -lt $((GRACE_S * 1000 + 1500)) ]
job=$(sc_job "$id")
check "reason: $(jq -r .reason <<<"$job")" grep -q 'cancelled by user' <<<"$(jq -r .reason <<<"$job")"
check_eq "task state" "$(jq -r '.tasks[0].state' <<<"$job")" cancelled
devices_free() { [ "$(sc_nodes_json | jq "[.nodes[].devices[].milli_used] | add")" = 0 ]; }
wait_until 5 "the cancelled task's device to be free" devices_free
SC_PASSED=$((SC_PASSED + 1))

# 2. Cancelling again: 409 conflict and a non-zero exit from the CLI.
if "$SUPERCELL" cancel "$id" >/dev/null 2>"$SC_TMP/err"; then fail "second cancel succeeded"; fi
check "second cancel says finished: $(cat "$SC_TMP/err")" grep -qi 'finished' "$SC_TMP/err"
resp=$(sc_api POST "/v1/jobs/$id/cancel")
check "second cancel via the API is 409: $resp" grep -q '^409 ' <<<"$resp"

# 3. A task tree that ignores SIGTERM: killed only after the grace period.
m2="cancel-stubborn-$RANDOM$RANDOM"
id2=$(sc_submit --name stubborn --env "E2E_CASE=$m2" -- \
  "trap '' TERM; for i in 1 2; do sh -c 'sleep 1000; echo $m2' & done; echo started; wait; wait; wait")
sc_wait_state "$id2" running
wait_until 10 "the stubborn task's 5 processes" eval '[ "$(count "$(case_pids '"$m2"')")" -ge 5 ]'
t0=$(sc_now_ms)
"$SUPERCELL" cancel "$id2" >/dev/null || fail "supercell cancel $id2"
sleep 1
check "SIGTERM-ignoring processes still alive 1 s after cancel (grace ${GRACE_S}s): $(case_pids "$m2")" \
  [ "$(count "$(case_pids "$m2")")" -ge 5 ]
wait_until 10 "no process of the stubborn task" none_left "$m2"
ms=$(($(sc_now_ms) - t0))
check "SIGKILL came after the grace period: ${ms} ms" [ "$ms" -ge $((GRACE_S * 1000 - 200)) ]
check "SIGKILL came soon after the grace period: ${ms} ms" [ "$ms" -lt $((GRACE_S * 1000 + 2500)) ]
sc_wait_job "$id2" cancelled 10
# The job is final at the cancel; the task's end is recorded when its agent reports it.
task_signal() { SC_WAIT_INFO=$(sc_job "$1" | jq -c '.tasks[0] | {state, exit_code, signal}'); [ "$(jq -r .signal <<<"$SC_WAIT_INFO")" != null ]; }
wait_until 5 "the stubborn task's end to be recorded" task_signal "$id2"
check_eq "signal of the stubborn task" "$(sc_job "$id2" | jq -r '.tasks[0].signal')" 9

# 4. Cancelling a pending job ends it at once. (Nothing fits: 16 devices of
# 910B on a fleet of 8. Without --allow-pending it is refused at submit.)
out=$("$SUPERCELL" submit --name never --gpus 8 --model 910B --tasks 2 -- true 2>&1) &&
  fail "an unsatisfiable gang was accepted: $out"
check "refused, saying why: $out" grep -q "the fleet runs at most 1 of this gang's 2 tasks at once" <<<"$out"
id3=$(sc_submit --name never --gpus 8 --model 910B --tasks 2 --allow-pending -- true)
sleep 0.5
check_eq "oversized gang pending" "$(sc_job_state "$id3")" pending
check_eq "its pending reason" "$(sc_job "$id3" | jq -r .pending_reason)" \
  "Unsatisfiable (the fleet runs at most 1 of this gang's 2 tasks at once)"
"$SUPERCELL" cancel "$id3" >/dev/null || fail "cancel pending $id3"
sc_wait_job "$id3" cancelled 5
check_eq "pending tasks cancelled" "$(sc_job "$id3" | jq -r '[.tasks[].state] | unique | join(",")')" cancelled

sc_finish
