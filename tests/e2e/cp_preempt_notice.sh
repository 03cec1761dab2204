#!/usr/bin/env bash
# End to end (issue #7 item 5, preemption with notice): an operator
# preempts a running spot job through POST /v1/jobs/{id}/preempt. Its task,
# trapping the job's own preempt_signal (SIGUSR1), finds SUPERCELL_PREEMPTED
# in its working directory (who, kind, deadline), records a checkpoint with
# `supercell checkpoint` (its task credential, during its grace) and exits;
# the job is requeued with reason "preempted by j-000123 (reclaim)" although
# max_retries is 0, the attempt shows in attempts, the usage record ends
# "preempted", and the job runs again and succeeds. A task that ignores
# the signal is SIGKILLed after its checkpoint_grace (not before, and within
# grace + 2 s). `supercell checkpoint` inside a task sets last_checkpoint_at;
# a task credential is refused for another job (403) and when forged (401);
# a checkpoint_grace over --max-checkpoint-grace is refused at submit.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server --max-checkpoint-grace 20s
sc_make_agent_token
sc_start_agent node-a nvidia:A100:2
sc_wait_nodes 1

# Tasks see only system paths and the share: the CLI goes there.
cp "$SUPERCELL" "$SC_SHARE/supercell"
chmod 755 "$SC_SHARE/supercell"
CLI=$SC_SHARE/supercell

# A fresh work dir in the share, writable by the tenant's uid.
workdir() { local d=$SC_SHARE/$1; mkdir -p "$d" && chmod 777 "$d"; echo "$d"; }
has_file() { [ -s "$1" ]; }

# 1. Over the controller's cap: refused at submit, naming the field.
resp=$(sc_api POST /v1/jobs -H 'Content-Type: application/json' \
  -d '{"name": "long", "command": ["true"], "checkpoint_grace": "1h"}')
check "checkpoint_grace over the cap is 400: $resp" grep -q '^400 .*checkpoint_grace' <<<"$resp"
resp=$(sc_api POST /v1/jobs -H 'Content-Type: application/json' \
  -d '{"name": "sig", "command": ["true"], "preempt_signal": "SIGKILL"}')
check "preempt_signal SIGKILL is 400: $resp" grep -q '^400 .*preempt_signal' <<<"$resp"

# 2. A spot job that checkpoints at start and again on notice, then leaves.
W1=$(workdir spot)
script1='
if [ -f done.0 ]; then echo resumed; exit 0; fi
trap '"'"'cp SUPERCELL_PREEMPTED seen.$SUPERCELL_ATTEMPT 2>/dev/null
  '"$CLI"' checkpoint >ckpt-notice.out 2>&1; echo $? >done.$SUPERCELL_ATTEMPT; exit 0'"'"' USR1
echo "$SUPERCELL_TASK_TOKEN" >token
'"$CLI"' checkpoint >ckpt-start.out 2>&1
echo started >started.$SUPERCELL_ATTEMPT
while :; do sleep 0.1; done'
id=$(sc_submit --name spot --spot --gpus 1 --max-retries 0 --preempt-signal SIGUSR1 \
  --checkpoint-grace 10s --workdir "$W1" -- "$script1")
sc_wait_state "$id" running
wait_until 15 "the spot task to start" has_file "$W1/started.0"
check "checkpoint from inside the task: $(cat "$W1/ckpt-start.out")" grep -q 'checkpoint at' "$W1/ckpt-start.out"
job=$(sc_job "$id")
check "last_checkpoint_at is set: $(jq -c '{last_checkpoint_at, preemptions}' <<<"$job")" \
  jq -e '.last_checkpoint_at != null and .preemptions == 0 and .spec.preemptible == true' <<<"$job" >/dev/null
check_eq "the spec keeps its signal" "$(jq -r .spec.preempt_signal <<<"$job")" SIGUSR1
check_eq "the spec keeps its grace (s)" "$(jq -r .spec.checkpoint_grace <<<"$job")" 10
ckpt1=$(jq -r .last_checkpoint_at <<<"$job")

# Another job's credential may not checkpoint this one; a forged one is 401.
token=$(cat "$W1/token")
check "the task got a credential" grep -q '^sct1\.' <<<"$token"
other=$(sc_submit --name other --hold -- true)
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $token" \
  "$SC_URL/v1/jobs/$other/checkpoint")
check_eq "another job's credential" "$code" 403
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer ${token%?}0" \
  "$SC_URL/v1/jobs/$id/checkpoint")
[ "${token: -1}" = 0 ] || check_eq "a forged credential" "$code" 401
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$SC_URL/v1/jobs/$id")
check_eq "a task credential reads nothing else" "$code" 401

# Preempt it, as a victim chooser would.
t0=$(sc_now_ms)
sc_api_schema POST "/v1/jobs/$id/preempt" 200 Job -H 'Content-Type: application/json' \
  -d '{"by": "j-000123", "kind": "reclaim"}'
resp=$(cat "$SC_TMP/api.body")
check_eq "requeued at once" "$(jq -r .state <<<"$resp")" pending
check_eq "reason" "$(jq -r .reason <<<"$resp")" "preempted by j-000123 (reclaim)"
wait_until 10 "the task to handle its notice" has_file "$W1/done.0"
ms=$(($(sc_now_ms) - t0))
check "handled within the grace (${ms} ms)" [ "$ms" -lt 10000 ]
check "the notice names the preemptor: $(tr '\n' ' ' <"$W1/seen.0")" grep -qx 'preempted_by=j-000123' "$W1/seen.0"
check "the notice names the kind" grep -qx 'kind=reclaim' "$W1/seen.0"
check "the notice has a deadline" grep -qE '^deadline=[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$W1/seen.0"
check "the notice names the signal" grep -qx 'signal=SIGUSR1' "$W1/seen.0"
check "checkpoint during the grace: $(cat "$W1/ckpt-notice.out")" grep -q 'checkpoint at' "$W1/ckpt-notice.out"
check_eq "its exit status" "$(cat "$W1/done.0")" 0
sc_wait_job "$id" succeeded 30
job=$(sc_job "$id")
check_eq "attempt" "$(jq -r .attempt <<<"$job")" 1
check_eq "preemptions" "$(jq -r .preemptions <<<"$job")" 1
check_eq "max_retries" "$(jq -r .max_retries <<<"$job")" 0
check_eq "the preempted attempt's reason" "$(jq -r '.attempts[0].reason' <<<"$job")" \
  "preempted by j-000123 (reclaim)"
check "the notice checkpoint is later: $(jq -r .last_checkpoint_at <<<"$job") > $ckpt1" \
  [ "$(jq -r .last_checkpoint_at <<<"$job")" \> "$ckpt1" ]
how=$(sqlite3 "$SC_TMP/server/supercell.db" \
  "SELECT how FROM usage WHERE job_id = ${id#j-} AND attempt = 0" 2>/dev/null || echo "?")
check_eq "the first attempt's usage ends" "$how" preempted
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $token" \
  "$SC_URL/v1/jobs/$id/checkpoint")
check "an ended attempt's credential is refused: $code" grep -qE '^(403|404)$' <<<"$code"
resp=$(sc_api POST "/v1/jobs/$id/preempt")
check "preempting a finished job is 409: $resp" grep -q '^409 ' <<<"$resp"

# 3. A task that ignores SIGTERM: SIGKILL after its checkpoint_grace.
GRACE_S=3
W2=$(workdir stubborn)
m2="preempt-stubborn-$RANDOM$RANDOM"
id2=$(sc_submit --name stubborn --gpus 1 --checkpoint-grace ${GRACE_S}s --env "E2E_CASE=$m2" \
  --workdir "$W2" -- \
  "[ \"\$SUPERCELL_ATTEMPT\" -gt 0 ] && exit 0; trap '' TERM; echo started >started; while :; do sleep 0.1; done")
sc_wait_state "$id2" running
wait_until 15 "the stubborn task to start" has_file "$W2/started"
# Host pids of the first attempt (its environment holds the marker and attempt 0).
first_pids() {
  local f pid
  for f in $(grep -lzxsF "E2E_CASE=$m2" /proc/[0-9]*/environ 2>/dev/null); do
    grep -qzxF "SUPERCELL_ATTEMPT=0" "$f" 2>/dev/null || continue
    pid=${f#/proc/}; pid=${pid%/environ}
    [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" = Z ] || echo "$pid"
  done
}
gone() { [ -z "$(first_pids)" ]; }
check "the first attempt's processes are visible" [ -n "$(first_pids)" ]
t0=$(sc_now_ms)
out=$("$SUPERCELL" preempt "$id2" --by j-000777 --kind priority) || fail "supercell preempt: $out"
check "the CLI says: $out" grep -q 'preempted by j-000777 (priority)' <<<"$out"
sleep $((GRACE_S - 1))
check "still alive within its grace" [ -n "$(first_pids)" ]
wait_until $((GRACE_S + 5)) "the stubborn task to be killed" gone
ms=$(($(sc_now_ms) - t0))
sc_log "stubborn task gone ${ms} ms after the preemption (grace ${GRACE_S}s)"
check "killed after the grace, within grace + 2 s (${ms} ms)" \
  [ "$ms" -ge $((GRACE_S * 1000 - 500)) -a "$ms" -lt $((GRACE_S * 1000 + 2000)) ]
check "the notice file is there" grep -qx 'preempted_by=j-000777' "$W2/SUPERCELL_PREEMPTED"
sc_wait_job "$id2" succeeded 30
check_eq "attempt after preemption" "$(sc_job "$id2" | jq -r .attempt)" 1

sc_finish
